// SPDX-License-Identifier: MIT
// The trust page (/trust): puts this device's steps first, and fills in the
// box's details from /trust/info.json (name, CA fingerprint, the secure page's
// address). A plain script in ES5, no modules: it must run on old phones. The
// page works without it: every platform's steps and the downloads are in the
// HTML.
(function () {
  'use strict';

  var doc = document;
  function $(id) { return doc.getElementById(id); }
  function show(el, on) { if (el) { if (on) el.removeAttribute('hidden'); else el.setAttribute('hidden', ''); } }
  function text(el, s) { if (el) el.textContent = s == null ? '' : String(s); }
  function each(list, fn) { for (var i = 0; i < list.length; i++) fn(list[i], i); }

  /**
   * The platform whose steps come first: 'android', 'ios', 'windows',
   * 'macos', 'chromeos', 'linux', or '' when unknown. iPadOS Safari says it is
   * a Mac; a Mac has no touch screen, so a "Mac" with touch points is an iPad.
   */
  function detectPlatform(nav) {
    var ua = nav.userAgent || '';
    var touch = nav.maxTouchPoints || 0;
    if (/Android/i.test(ua)) return 'android';
    if (/iPhone|iPad|iPod/.test(ua)) return 'ios';
    if (/Macintosh|Mac OS X/.test(ua) && touch > 0) return 'ios';
    if (nav.platform === 'MacIntel' && touch > 0) return 'ios';
    if (/CrOS/.test(ua)) return 'chromeos';
    if (/Windows/.test(ua)) return 'windows';
    if (/Macintosh|Mac OS X/.test(ua)) return 'macos';
    if (/Linux|X11/.test(ua)) return 'linux';
    return '';
  }

  var PLATFORMS = ['android', 'ios', 'windows', 'macos', 'chromeos', 'linux'];

  /** ?for=ios (support staff, screenshots) wins over the detection. */
  function chosenPlatform() {
    var m = /[?&]for=([a-z]+)/.exec(location.search);
    if (m && PLATFORMS.indexOf(m[1]) >= 0) return m[1];
    return detectPlatform(navigator);
  }

  /** "AB:CD:…" as rows of 8 bytes, in `el`. */
  function showFingerprint(el, fp) {
    var bytes = String(fp || '').toUpperCase().split(':');
    el.textContent = '';
    for (var i = 0; i < bytes.length; i += 8) {
      var row = doc.createElement('span');
      row.className = 'row';
      row.textContent = bytes.slice(i, i + 8).join(':') + (i + 8 < bytes.length ? ':' : '');
      el.appendChild(row);
    }
    el.setAttribute('aria-label', 'SHA-256 fingerprint ' + bytes.join(' '));
  }

  function fmtDate(iso) {
    var d = new Date(iso);
    if (!iso || isNaN(d.getTime())) return iso || '';
    try {
      return d.toLocaleDateString(undefined, { year: 'numeric', month: 'long', day: 'numeric' });
    } catch (e) {
      return String(iso).slice(0, 10);
    }
  }

  // --- this device first ------------------------------------------------------

  /** Moves `platform`'s steps out of its <details> into the "this device" card. */
  function putFirst(platform) {
    var details = doc.querySelector('details.platform[data-platform="' + platform + '"]');
    if (!details) return null;
    var steps = details.querySelector('.steps');
    var mine = $('mine');
    text($('mine-h'), 'Set up this ' + (details.getAttribute('data-name') || 'device'));
    mine.appendChild(steps);
    mine.setAttribute('data-platform', platform);
    details.parentNode.removeChild(details);
    show(mine, true);
    text($('platforms-h'), 'Other devices');
    text($('platforms-hint'), 'Setting up another kind of device? Open its steps here.');
    return steps;
  }

  // --- the box's details --------------------------------------------------------

  function getJSON(url, done) {
    var x = new XMLHttpRequest();
    x.open('GET', url, true);
    x.setRequestHeader('Accept', 'application/json');
    x.onreadystatechange = function () {
      if (x.readyState !== 4) return;
      var body = null;
      if (x.status === 200) { try { body = JSON.parse(x.responseText); } catch (e) { body = null; } }
      done(body);
    };
    x.send();
  }

  /**
   * Where "Continue" goes: a phone to the secure phone page (/p: it just says
   * to scan the till's QR code), a computer to the secure desktop page.
   */
  function continueUrl(httpsUrl, platform) {
    if (platform !== 'android' && platform !== 'ios') return httpsUrl;
    return String(httpsUrl).replace(/\/?$/, '/p');
  }

  function applyInfo(info, platform) {
    var mode = info.mode || (info.tls ? 'local-ca' : 'off');
    doc.documentElement.setAttribute('data-mode', mode);
    if (info.box) {
      text($('box-name'), info.box);
      show($('box-line'), true);
      doc.title = 'scanbridge — trust ' + info.box;
    }
    if (info.trust_url) text($('trust-url'), info.trust_url);

    var off = !info.tls || mode === 'off';
    var ownCa = !off && mode === 'local-ca';
    show($('intro-ca'), ownCa);
    show($('off'), off);
    show($('files'), !off && mode === 'files');
    show($('qr'), ownCa);
    show($('downloads'), ownCa);
    show($('platforms'), ownCa);
    if (!ownCa) show($('mine'), false);

    if (ownCa && info.ca) {
      text($('ca-subject'), info.ca.subject);
      showFingerprint($('fingerprint'), info.ca.sha256);
      text($('ca-until'), fmtDate(info.ca.not_after));
      show($('check'), true);
    }
    if (!off && info.https_url) {
      if (!ownCa) text($('continue-h'), 'Open the secure page');
      var target = continueUrl(info.https_url, platform);
      $('continue-link').href = target;
      text($('continue-url'), target);
      show($('continue'), true);
    }
    if (location.protocol === 'https:') {
      text($('here'), 'This page came over a secure connection. If the browser showed no warning, this device already trusts the box.');
      show($('here'), true);
    }
    if (info.trust_url) {
      var base = String(info.trust_url).replace(/\/trust\/?$/, '');
      text($('linux-cmd'),
        'sudo curl -fsS -o /usr/local/share/ca-certificates/' + (String(info.box || 'scanbridge').replace(/[^A-Za-z0-9.-]/g, '') || 'scanbridge') + '-ca.crt ' + base + '/trust/ca.pem\n' +
        'sudo update-ca-certificates');
    }
  }

  // --- Windows shows a SHA-1 thumbprint: computed here from the .crt ----------

  /** SHA-1 of a byte array, as upper-case hex (FIPS 180-4). */
  function sha1Hex(bytes) {
    var n = bytes.length, words = ((n + 8) >> 6) + 1, w = new Array(words * 16), i, j;
    for (i = 0; i < w.length; i++) w[i] = 0;
    for (i = 0; i < n; i++) w[i >> 2] |= bytes[i] << (24 - (i % 4) * 8);
    w[n >> 2] |= 0x80 << (24 - (n % 4) * 8);
    w[words * 16 - 1] = n * 8;
    var h0 = 0x67452301, h1 = 0xEFCDAB89, h2 = 0x98BADCFE, h3 = 0x10325476, h4 = 0xC3D2E1F0;
    var x = new Array(80);
    for (i = 0; i < w.length; i += 16) {
      var a = h0, b = h1, c = h2, d = h3, e = h4;
      for (j = 0; j < 80; j++) {
        if (j < 16) x[j] = w[i + j];
        else { var t = x[j - 3] ^ x[j - 8] ^ x[j - 14] ^ x[j - 16]; x[j] = (t << 1) | (t >>> 31); }
        var f, k;
        if (j < 20) { f = (b & c) | (~b & d); k = 0x5A827999; }
        else if (j < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1; }
        else if (j < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC; }
        else { f = b ^ c ^ d; k = 0xCA62C1D6; }
        var tmp = (((a << 5) | (a >>> 27)) + f + e + k + x[j]) | 0;
        e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = tmp;
      }
      h0 = (h0 + a) | 0; h1 = (h1 + b) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0; h4 = (h4 + e) | 0;
    }
    var out = '';
    each([h0, h1, h2, h3, h4], function (h) { out += ('0000000' + (h >>> 0).toString(16)).slice(-8); });
    return out.toUpperCase();
  }

  var sha1Asked = false;
  function showSha1() {
    if (sha1Asked || !window.Uint8Array) return;
    sha1Asked = true;
    var x = new XMLHttpRequest();
    x.open('GET', '/trust/ca.crt', true);
    x.responseType = 'arraybuffer';
    x.onload = function () {
      if (x.status !== 200 || !x.response) return;
      var hex = sha1Hex(new Uint8Array(x.response));
      each(doc.querySelectorAll('[data-sha1]'), function (el) { text(el, hex.replace(/(..)(?!$)/g, '$1 ')); });
    };
    x.send();
  }

  // --- start --------------------------------------------------------------------

  function start() {
    var platform = chosenPlatform();
    doc.documentElement.setAttribute('data-platform', platform || 'unknown');
    if (platform) putFirst(platform);

    var win = doc.querySelector('[data-platform="windows"]');
    var ownCa = true;
    if (win && win.tagName === 'DETAILS') {
      win.addEventListener('toggle', function () { if (win.open && ownCa) showSha1(); });
    }

    getJSON('/trust/info.json', function (info) {
      if (!info) {
        show($('load-error'), true);
        doc.documentElement.setAttribute('data-ready', 'error');
        return;
      }
      applyInfo(info, platform);
      ownCa = !!info.tls && (info.mode || 'local-ca') === 'local-ca';
      if (ownCa && platform === 'windows') showSha1();
      doc.documentElement.setAttribute('data-ready', 'true');
    });
  }

  // For tests and the console: what the page decided.
  window.scanbridgeTrust = { detectPlatform: detectPlatform, sha1Hex: sha1Hex };

  if (doc.readyState === 'loading') doc.addEventListener('DOMContentLoaded', start);
  else start();
})();
