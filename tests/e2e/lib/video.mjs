// SPDX-License-Identifier: MIT
// A fake camera for Chromium (--use-file-for-fake-video-capture): a y4m video
// of one EAN-13 barcode, made with GNU barcode and ImageMagick. Shared by the
// phone and HTTPS browser tests.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** A 640×480 y4m (10 frames, looped by Chromium) showing an EAN-13 barcode. */
export function makeBarcodeVideo(dir, text) {
  const W = 640, H = 480;
  const svg = join(dir, 'code.svg');
  const raw = join(dir, 'frame.gray');
  execFileSync('barcode', ['-n', '-b', text, '-e', 'ean13', '-S', '-o', svg]);
  execFileSync('convert', ['-size', `${W}x${H}`, 'xc:white',
    // The SVG is a whole page with an outline: trim to the outline, shave
    // it off, trim to the bars.
    '(', '-density', '300', svg, '-colorspace', 'Gray', '-trim', '+repage', '-shave', '4x4', '-trim', '+repage',
    '-resize', '440x260!', ')',
    '-gravity', 'center', '-composite', '-colorspace', 'Gray', '-depth', '8', `gray:${raw}`]);
  const y = readFileSync(raw);
  assert.equal(y.length, W * H);
  const uv = Buffer.alloc((W / 2) * (H / 2), 128);
  const path = join(dir, 'barcode.y4m');
  const fd = openSync(path, 'w');
  writeSync(fd, `YUV4MPEG2 W${W} H${H} F10:1 Ip A1:1 C420jpeg\n`);
  for (let i = 0; i < 10; i++) {
    writeSync(fd, 'FRAME\n');
    writeSync(fd, y);
    writeSync(fd, uv);
    writeSync(fd, uv);
  }
  closeSync(fd);
  return path;
}
