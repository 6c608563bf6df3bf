/**
 * torchvision `RandomResizedCrop.get_params` with the seeded `Rng`: up to ten tries of a
 * uniform area fraction in `scale` and a log-uniform aspect ratio in `ratio`, then the
 * central-crop fallback clamped to the ratio range.
 */
import type { Rng } from '@openclip/engine/rng';
import { pyRound } from './center-crop.js';
import type { Region } from './resample.js';

/** torchvision's default RandomResizedCrop ratio, (3/4, 4/3). */
export const DEFAULT_CROP_RATIO: readonly [number, number] = [3 / 4, 4 / 3];

export function randomResizedCropRegion(
  width: number, height: number, scale: readonly [number, number], ratio: readonly [number, number], rng: Rng,
): Region {
  const area = height * width;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const w = pyRound(Math.sqrt(targetArea * aspect));
    const h = pyRound(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.randint(height - h + 1);
      const left = rng.randint(width - w + 1);
      return { left, top, width: w, height: h };
    }
  }
  const inRatio = width / height;
  let w: number;
  let h: number;
  if (inRatio < Math.min(ratio[0], ratio[1])) {
    w = width;
    h = pyRound(w / Math.min(ratio[0], ratio[1]));
  } else if (inRatio > Math.max(ratio[0], ratio[1])) {
    h = height;
    w = pyRound(h * Math.max(ratio[0], ratio[1]));
  } else {
    w = width;
    h = height;
  }
  return { left: Math.floor((width - w) / 2), top: Math.floor((height - h) / 2), width: w, height: h };
}
