/**
 * torchvision `CenterCrop` and open_clip `CenterCropOrPad` placement: pad left/top by
 * (t - s) // 2 and right/bottom by (t - s + 1) // 2 when the image is smaller, then crop at
 * `int(round((H - h) / 2))` with Python's round-half-to-even.
 */
import type { Region } from './resample.js';

/** Python 3 `round(x)`: nearest integer, ties to even. */
export function pyRound(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * The (crop height x crop width) window of a (height x width) image that CenterCropOrPad
 * returns, in the image's coordinates: parts outside the image are padding.
 */
export function centerCropOrPadRegion(width: number, height: number, cropHeight: number, cropWidth: number): Region {
  const padL = cropWidth > width ? Math.floor((cropWidth - width) / 2) : 0;
  const padT = cropHeight > height ? Math.floor((cropHeight - height) / 2) : 0;
  const padR = cropWidth > width ? Math.floor((cropWidth - width + 1) / 2) : 0;
  const padB = cropHeight > height ? Math.floor((cropHeight - height + 1) / 2) : 0;
  const pw = width + padL + padR;
  const ph = height + padT + padB;
  const top = pyRound((ph - cropHeight) / 2);
  const left = pyRound((pw - cropWidth) / 2);
  return { left: left - padL, top: top - padT, width: cropWidth, height: cropHeight };
}
