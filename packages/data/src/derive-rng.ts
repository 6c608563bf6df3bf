/**
 * Independent seeded generators for (seed, epoch, rank, worker, ...) tuples, as OpenCLIP derives a
 * worker's seed from the base seed, its rank, worker id and epoch: the parts are mixed (splitmix-style)
 * into one 53-bit seed for the engine's `Rng`.
 */
import { Rng } from '@openclip/engine/rng';

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** A 53-bit seed that depends on every part (integers, any sign, up to 2^53). */
export function deriveSeed(...parts: number[]): number {
  let h1 = 0x9e3779b9;
  let h2 = 0x85ebca77;
  for (const p of parts) {
    if (!Number.isSafeInteger(p)) throw new Error(`seed part must be a safe integer, got ${p}`);
    const lo = p >>> 0;
    const hi = Math.floor(p / 2 ** 32) >>> 0;
    h1 = mix32((h1 ^ lo) + 0x9e3779b9 + (h2 << 6) + (h2 >>> 2));
    h2 = mix32((h2 ^ hi ^ h1) + 0x7f4a7c15);
  }
  return (h2 & 0x1fffff) * 2 ** 32 + h1;
}

export function deriveRng(...parts: number[]): Rng {
  return new Rng(deriveSeed(...parts));
}
