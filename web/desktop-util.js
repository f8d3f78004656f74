// Small helpers for the desktop page: beep, clipboard, formatting, storage.

/** @type {AudioContext|null} */
let audio = null;

/**
 * A short, soft beep through WebAudio (no audio files). Browsers only let a
 * page start audio after the user interacted with it; before that it is a no-op.
 */
export function beep() {
  const AC = window.AudioContext || /** @type {any} */ (window).webkitAudioContext;
  if (!AC) return;
  const ua = /** @type {any} */ (navigator).userActivation;
  if (!audio) {
    if (ua && !ua.hasBeenActive) return;
    audio = new AC();
  }
  if (audio.state === 'suspended') audio.resume().catch(() => {});
  const t = audio.currentTime;
  const osc = audio.createOscillator();
  const gain = audio.createGain();
  osc.type = 'sine';
  osc.frequency.setValueAtTime(1175, t);
  gain.gain.setValueAtTime(0.0001, t);
  gain.gain.exponentialRampToValueAtTime(0.25, t + 0.01);
  gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.14);
  osc.connect(gain).connect(audio.destination);
  osc.start(t);
  osc.stop(t + 0.15);
}

/**
 * Copies text: the async Clipboard API where the page may use it (HTTPS or
 * localhost), else a hidden textarea and execCommand('copy') (plain-HTTP LAN).
 * @param {string} text @returns {Promise<boolean>}
 */
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch { /* permission denied or not focused: try the old way */ }
  }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.className = 'offscreen';
  const prev = /** @type {HTMLElement|null} */ (document.activeElement);
  document.body.append(ta);
  ta.select();
  let ok = false;
  try { ok = document.execCommand('copy'); } catch { ok = false; }
  ta.remove();
  if (prev && prev.focus) prev.focus();
  return ok;
}

/** @param {number} ms @returns {string} "42 ms", "1.3 s", "2 min" or "—" */
export function fmtLatency(ms) {
  if (typeof ms !== 'number' || !isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return Math.round(ms) + ' ms';
  if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 1 : 0) + ' s';
  if (ms < 3600000) return Math.round(ms / 60000) + ' min';
  return Math.round(ms / 3600000) + ' h';
}

/** @param {number} t ms since the epoch @returns {string} local wall-clock time */
export function fmtTime(t) {
  return new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** JSON from a Storage, or null. @param {Storage} store @param {string} key */
export function load(store, key) {
  try { return JSON.parse(store.getItem(key) || 'null'); } catch { return null; }
}

/** Stores JSON; a full or disabled storage is not fatal. @param {Storage} store @param {string} key @param {any} value */
export function save(store, key, value) {
  try {
    if (value === null || value === undefined) store.removeItem(key);
    else store.setItem(key, JSON.stringify(value));
  } catch { /* quota or privacy mode: the page still works, it just will not resume */ }
}

/**
 * Offers text as a file download (CSV, JSON) without a server round trip.
 * @param {string} name @param {string} type MIME type @param {string} text
 */
export function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** A file name stamp: 2024-05-01-1432. @param {number} t */
export function stamp(t) {
  const d = new Date(t), p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}`;
}

/** document.createElement with a class and text. @param {string} tag @param {string} [cls] @param {string} [text] */
export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
