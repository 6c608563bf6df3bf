/**
 * Seeded random numbers (xoshiro128** seeded through splitmix32), so runs are reproducible
 * and the generator state can be stored in a checkpoint and restored on resume.
 */

export interface RngState {
  /** Four 32-bit words of xoshiro128** state. */
  s: [number, number, number, number];
  /** Cached second normal deviate of Box-Muller, or null. */
  spare: number | null;
}

function splitmix32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x9e3779b9) >>> 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spare: number | null = null;

  /** `seed` may be any safe integer; its high and low 32-bit halves both count. */
  constructor(seed = 0) {
    if (!Number.isSafeInteger(seed)) throw new Error(`Rng seed must be a safe integer, got ${seed}`);
    const hi = Math.floor(seed / 2 ** 32) >>> 0;
    const mix = splitmix32((seed >>> 0) ^ Math.imul(hi, 0x27d4eb2d));
    this.s0 = mix();
    this.s1 = (mix() ^ hi) >>> 0;
    this.s2 = mix();
    this.s3 = mix();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.setState(state);
    return r;
  }

  getState(): RngState {
    return { s: [this.s0, this.s1, this.s2, this.s3], spare: this.spare };
  }

  setState(state: RngState): void {
    const [a, b, c, d] = state.s;
    if (![a, b, c, d].every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff)) {
      throw new Error('invalid Rng state: expected four unsigned 32-bit words');
    }
    this.s0 = a;
    this.s1 = b;
    this.s2 = c;
    this.s3 = d;
    this.spare = state.spare ?? null;
  }

  /** A new generator whose stream is independent of this one's, derived from `stream` (e.g. rank, worker). */
  fork(stream: number): Rng {
    const mix = splitmix32(this.nextUint32() ^ Math.imul(stream + 1, 0x9e3779b1));
    const r = new Rng(0);
    r.setState({ s: [mix(), mix(), mix(), (mix() | 1) >>> 0], spare: null });
    return r;
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  random(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  uniform(low = 0, high = 1): number {
    return low + (high - low) * this.random();
  }

  /** Unbiased integer in [0, n). */
  randint(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`randint needs a positive integer bound, got ${n}`);
    if (n <= 0x100000000) {
      const limit = 0x100000000 - (0x100000000 % n);
      for (;;) {
        const x = this.nextUint32();
        if (x < limit) return x % n;
      }
    }
    return Math.floor(this.random() * n);
  }

  /** Standard normal deviate (Box-Muller). */
  normal(mean = 0, std = 1): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return mean + std * z;
    }
    let u = 0;
    while (u === 0) u = this.random();
    const v = this.random();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }

  fillUniform(out: Float32Array, low = 0, high = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.uniform(low, high);
    return out;
  }

  fillNormal(out: Float32Array, mean = 0, std = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.normal(mean, std);
    return out;
  }

  /** Normal deviates redrawn until inside [a, b] (torch.nn.init.trunc_normal_ semantics). */
  fillTruncNormal(out: Float32Array, mean = 0, std = 1, a = -2, b = 2): Float32Array {
    for (let i = 0; i < out.length; i++) {
      let x = this.normal(mean, std);
      while (x < a || x > b) x = this.normal(mean, std);
      out[i] = x;
    }
    return out;
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.randint(i + 1);
      const t = items[i];
      items[i] = items[j];
      items[j] = t;
    }
    return items;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }
}
