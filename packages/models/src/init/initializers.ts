/**
 * OpenCLIP's weight initialisation (`init_parameters` of each tower, over PyTorch's module
 * defaults) expressed as specs that a seeded `Rng` turns into values: the same distributions
 * as PyTorch, not the same draws.
 */
import type { Rng } from '@openclip/engine';

export type InitSpec =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'const'; value: number }
  /** nn.init.normal_(std) / `scale * torch.randn` */
  | { kind: 'normal'; std: number }
  /** N(0, std²) redrawn until inside [lo, hi] (timm's trunc_normal_ / trunc_normal_tf_) */
  | { kind: 'truncNormal'; std: number; lo: number; hi: number }
  /** U(-bound, bound) */
  | { kind: 'uniform'; bound: number }
  /** Fixed values (e.g. 2-D sin-cos position embedding). */
  | { kind: 'values'; data: Float32Array };

export const zeros: InitSpec = { kind: 'zeros' };
export const ones: InitSpec = { kind: 'ones' };
export const constant = (value: number): InitSpec => ({ kind: 'const', value });
export const normal = (std: number): InitSpec => ({ kind: 'normal', std });
export const uniform = (bound: number): InitSpec => ({ kind: 'uniform', bound });
/** timm's `trunc_normal_(std, a, b)`: the bounds are absolute values (±2 by default, so ±100σ at std .02). */
export const truncNormal = (std: number, a = -2, b = 2): InitSpec => ({ kind: 'truncNormal', std, lo: a, hi: b });
/** timm's `trunc_normal_tf_(std, a, b)`: the bounds are in units of std (drawn on N(0,1), then scaled). */
export const truncNormalTf = (std: number, a = -2, b = 2): InitSpec => ({ kind: 'truncNormal', std, lo: a * std, hi: b * std });

/** nn.Linear / nn.Conv2d default weight init: kaiming_uniform_(a=√5) = U(±1/√fan_in). */
export const torchDefaultWeight = (fanIn: number): InitSpec => uniform(1 / Math.sqrt(fanIn));
/** nn.Linear / nn.Conv2d default bias init: U(±1/√fan_in). */
export const torchDefaultBias = (fanIn: number): InitSpec => uniform(1 / Math.sqrt(fanIn));
/** nn.init.xavier_uniform_ (nn.MultiheadAttention's in-projection weights). */
export const xavierUniform = (fanIn: number, fanOut: number): InitSpec => uniform(Math.sqrt(6 / (fanIn + fanOut)));

const TWO_PI = 2 * Math.PI;

/** N(0, std²) by Box-Muller on 32-bit uniforms from `rng` (twice as fast as per-element Rng.normal; plenty for init). */
export function fillNormalFast(out: Float32Array, std: number, rng: Rng): Float32Array {
  const n = out.length;
  for (let i = 0; i < n; i += 2) {
    const u = (rng.nextUint32() + 1) / 4294967297; // (0, 1]
    const theta = TWO_PI * (rng.nextUint32() / 4294967296);
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    out[i] = r * Math.cos(theta);
    if (i + 1 < n) out[i + 1] = r * Math.sin(theta);
  }
  return out;
}

/** N(0, std²) with every value outside [lo, hi] redrawn (rejection; the bounds must hold some mass). */
export function fillTruncNormal(out: Float32Array, std: number, lo: number, hi: number, rng: Rng): Float32Array {
  if (!(lo < hi) || hi / std < -6 || lo / std > 6) throw new Error(`truncated normal: bounds [${lo}, ${hi}] leave no mass at std ${std}`);
  fillNormalFast(out, std, rng);
  for (let i = 0; i < out.length; i++) {
    while (out[i] < lo || out[i] > hi) out[i] = rng.normal() * std;
  }
  return out;
}

/** U(-bound, bound) from 32-bit uniforms of `rng`. */
export function fillUniformFast(out: Float32Array, bound: number, rng: Rng): Float32Array {
  const scale = (2 * bound) / 4294967296;
  for (let i = 0; i < out.length; i++) out[i] = rng.nextUint32() * scale - bound;
  return out;
}

/** Values for a spec; with `rng` null every random spec gives zeros (weights about to be loaded). */
export function materialize(spec: InitSpec, size: number, rng: Rng | null): Float32Array {
  const out = new Float32Array(size);
  switch (spec.kind) {
    case 'zeros':
      return out;
    case 'ones':
      return out.fill(1);
    case 'const':
      return out.fill(spec.value);
    case 'values':
      if (spec.data.length !== size) throw new Error(`init values have ${spec.data.length} elements, expected ${size}`);
      return Float32Array.from(spec.data);
    case 'normal':
      return rng ? fillNormalFast(out, spec.std, rng) : out;
    case 'truncNormal':
      return rng ? fillTruncNormal(out, spec.std, spec.lo, spec.hi, rng) : out;
    case 'uniform':
      return rng ? fillUniformFast(out, spec.bound, rng) : out;
  }
}
