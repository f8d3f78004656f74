// SPDX-License-Identifier: MIT
// The live camera and photos. Reads codes with the browser's BarcodeDetector
// where it exists; otherwise grabs downscaled JPEG frames for the daemon's
// decoder (the page sends them as binary WebSocket frames) and, for photos,
// a downscaled JPEG for POST /api/v1/decode.

import { DETECTOR_FORMAT_NAMES, fitWithin, formatFromDetector } from './core.mjs';

/** Longest side of a camera frame sent to the daemon. */
export const FRAME_MAX_SIDE = 960;
/** Longest side of a photo sent to the daemon. */
export const PHOTO_MAX_SIDE = 1600;

let detectorPromise = null;

/** A BarcodeDetector for every format we can name, or null when there is none. */
export function getDetector() {
  if (!detectorPromise) {
    detectorPromise = (async () => {
      const BD = globalThis.BarcodeDetector;
      if (typeof BD !== 'function') return null;
      try {
        const supported = await BD.getSupportedFormats();
        const formats = supported.filter((f) => DETECTOR_FORMAT_NAMES.includes(f));
        return formats.length ? new BD({ formats }) : null;
      } catch {
        return null;
      }
    })();
  }
  return detectorPromise;
}

function toCodes(results) {
  return results.map((r) => ({ code: r.rawValue, format: formatFromDetector(r.format) }))
    .filter((c) => c.code);
}

/** Draws `source` (w×h) scaled to fit maxSide and encodes it as a JPEG Blob. */
function encodeJpeg(source, w, h, maxSide, quality) {
  const { width, height } = fitWithin(w, h, maxSide);
  if (!width) return Promise.resolve(null);
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const g = canvas.getContext('2d', { alpha: false });
  g.drawImage(source, 0, 0, width, height);
  return new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality));
}

/**
 * Reads a photo: {codes} when the browser decoded it itself, else {jpeg} — a
 * downscaled JPEG for the daemon.
 * @param {Blob} file
 */
export async function readPhoto(file) {
  const bitmap = await createImageBitmap(file);
  try {
    const det = await getDetector();
    if (det) {
      try { return { codes: toCodes(await det.detect(bitmap)) }; } catch { /* fall through */ }
    }
    return { jpeg: await encodeJpeg(bitmap, bitmap.width, bitmap.height, PHOTO_MAX_SIDE, 0.85) };
  } finally {
    bitmap.close?.();
  }
}

/**
 * The live camera in a <video>. `onCodes(codes)` gets BarcodeDetector results;
 * without a detector, `wantFrame()` is asked whether a frame may go now and
 * `onFrame(blob)` gets it.
 */
export class Camera {
  /**
   * @param {HTMLVideoElement} video
   * @param {{onCodes: (c: {code:string, format:string}[]) => void,
   *          wantFrame: () => boolean, onFrame: (b: Blob) => void}} hooks
   */
  constructor(video, hooks) {
    this.video = video;
    this.hooks = hooks;
    this.stream = null;
    this.detector = null;
    this.timer = 0;
    this.running = false;
    this.busy = false;
  }

  get mode() { return this.detector ? 'detector' : 'server'; }

  /** Starts the back camera; throws the getUserMedia error. */
  async start() {
    if (this.running) return;
    this.detector = await getDetector();
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
    });
    this.video.srcObject = this.stream;
    this.video.muted = true;
    this.video.setAttribute('playsinline', '');
    await this.video.play().catch(() => {});
    this.running = true;
    this.tick();
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
    if (this.stream) for (const t of this.stream.getTracks()) t.stop();
    this.stream = null;
    this.video.srcObject = null;
  }

  schedule(ms) {
    clearTimeout(this.timer);
    if (this.running) this.timer = setTimeout(() => this.tick(), ms);
  }

  async tick() {
    if (!this.running) return;
    const v = this.video;
    if (this.busy || v.readyState < 2 || !v.videoWidth) return this.schedule(100);
    this.busy = true;
    try {
      if (this.detector) {
        const found = toCodes(await this.detector.detect(v));
        if (found.length) this.hooks.onCodes(found);
        return this.schedule(120);
      }
      if (this.hooks.wantFrame()) {
        const blob = await encodeJpeg(v, v.videoWidth, v.videoHeight, FRAME_MAX_SIDE, 0.75);
        if (blob && this.running) this.hooks.onFrame(blob);
      }
      this.schedule(60);
    } catch {
      this.schedule(250);
    } finally {
      this.busy = false;
    }
  }
}
