// SPDX-License-Identifier: MIT
// Sound and vibration: a short high beep when the till has a scan
// (delivered), a low double buzz when a scan is refused. WebAudio needs a user
// gesture before it may play, so the context is created on the first tap;
// vibration is only tried after one too (browsers refuse it otherwise).

let ctx = null;

function audio() {
  if (!ctx) {
    const AC = globalThis.AudioContext || globalThis.webkitAudioContext;
    if (!AC) return null;
    try { ctx = new AC(); } catch { return null; }
  }
  if (ctx.state === 'suspended') ctx.resume().catch(() => {});
  return ctx;
}

function activated() {
  const ua = navigator.userActivation;
  return !ua || ua.hasBeenActive;
}

/** Call from a user gesture so later feedback may play. */
export function unlock() {
  if (activated()) audio();
}

function tone(freq, start, dur, type = 'sine', gain = 0.2) {
  const ac = audio();
  if (!ac || ac.state !== 'running') return;
  const t0 = ac.currentTime + start;
  const osc = ac.createOscillator();
  const g = ac.createGain();
  osc.type = type;
  osc.frequency.value = freq;
  g.gain.setValueAtTime(0.0001, t0);
  g.gain.exponentialRampToValueAtTime(gain, t0 + 0.01);
  g.gain.exponentialRampToValueAtTime(0.0001, t0 + dur);
  osc.connect(g).connect(ac.destination);
  osc.start(t0);
  osc.stop(t0 + dur + 0.02);
}

function vibrate(pattern) {
  if (activated() && typeof navigator.vibrate === 'function') {
    try { navigator.vibrate(pattern); } catch { /* not allowed */ }
  }
}

/** The till has the scan. */
export function delivered() {
  if (!activated()) return;
  tone(1760, 0, 0.09, 'sine', 0.25);
  vibrate(70);
}

/** The scan was refused (bad code). */
export function rejected() {
  if (!activated()) return;
  tone(220, 0, 0.16, 'square', 0.12);
  tone(180, 0.22, 0.22, 'square', 0.12);
  vibrate([120, 80, 220]);
}

/** A code was read by the camera (before it is sent). */
export function detected() {
  if (!activated()) return;
  tone(1200, 0, 0.04, 'triangle', 0.1);
}
