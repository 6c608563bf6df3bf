/**
 * timm's transformer layers under timm's parameter names: `Attention` (fused `qkv`, per-head
 * `q_norm`/`k_norm`, `proj`), `Mlp` (`fc1` → act → `fc2`), the pre-norm `Block` (`norm1`, `attn`,
 * `ls1`, `norm2`, `mlp`, `ls2`), `AttentionPoolLatent` (the MAP head: `latent`, `q`, `kv`, `proj`,
 * `norm`, `mlp`) and timm's parameter grouping (`group_matcher` + `group_parameters`).
 */
import { tf, ops } from '@openclip/engine';
import type { Rng } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import { constant, torchDefaultBias, torchDefaultWeight, truncNormal, truncNormalTf, zeros } from '../../init/initializers.js';
import type { InitSpec } from '../../init/initializers.js';
import { LayerNorm, activate, mergeHeads, splitHeads, splitQkvHeads } from '../layers.js';
import type { ActivationName } from '../layers.js';
import { join } from '../params.js';
import type { ParamStore } from '../params.js';

/** timm's `act_layer` names this port runs. */
export function timmActivation(name: string | undefined, where: string): ActivationName {
  if (name === undefined || name === 'gelu') return 'gelu';
  if (name === 'gelu_tanh') return 'gelu_tanh';
  if (name === 'quick_gelu') return 'quick_gelu';
  throw new Error(`${where}: act_layer '${name}' is not supported (gelu, gelu_tanh, quick_gelu)`);
}

/** timm's ViT/EVA init for nn.Linear: trunc_normal_(std .02) weights, zero bias. */
export const TIMM_LINEAR: { weight: InitSpec; bias: InitSpec } = { weight: truncNormal(0.02), bias: zeros };

/** EVA's `fix_init_weight`: block i's attn.proj and mlp.fc2 weights divided by √(2(i+1)) after TIMM_LINEAR. */
export function timmRescaledLinear(blockIndex: number): { weight: InitSpec; bias: InitSpec } {
  const s = Math.sqrt(2 * (blockIndex + 1));
  return { weight: truncNormal(0.02 / s, -2 / s, 2 / s), bias: zeros };
}

/** nn.Linear under timm's names (`<prefix>.weight` [out, in], `<prefix>.bias`). */
export class TimmLinear {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  constructor(store: ParamStore, prefix: string, inF: number, outF: number, bias: boolean, init: { weight?: InitSpec; bias?: InitSpec } = TIMM_LINEAR) {
    this.weight = store.param(join(prefix, 'weight'), [outF, inF], init.weight ?? torchDefaultWeight(inF));
    this.bias = bias ? store.param(join(prefix, 'bias'), [outF], init.bias ?? torchDefaultBias(inF)) : null;
  }
  apply(x: Tensor): Tensor {
    return ops.linear(x, this.weight, this.bias);
  }
}

/** timm `Mlp`: fc1 → act → (norm) → fc2. */
export class TimmMlp {
  readonly fc1: TimmLinear;
  readonly norm: LayerNorm | null;
  readonly fc2: TimmLinear;
  constructor(store: ParamStore, prefix: string, inF: number, hidden: number, outF: number, readonly act: ActivationName,
    o: { bias?: [boolean, boolean]; eps?: number; norm?: boolean; init?: { weight?: InitSpec; bias?: InitSpec }; fc2Init?: { weight?: InitSpec; bias?: InitSpec } } = {}) {
    const [b1, b2] = o.bias ?? [true, true];
    this.fc1 = new TimmLinear(store, join(prefix, 'fc1'), inF, hidden, b1, o.init);
    this.norm = o.norm ? new LayerNorm(store, join(prefix, 'norm'), hidden, o.eps ?? 1e-6) : null;
    this.fc2 = new TimmLinear(store, join(prefix, 'fc2'), hidden, outF, b2, o.fc2Init ?? o.init);
  }
  apply(x: Tensor): Tensor {
    return tf.tidy(() => {
      let h = activate(this.fc1.apply(x), this.act);
      if (this.norm) h = this.norm.apply(h);
      return this.fc2.apply(h);
    });
  }
}

/** ViTamin's `GeGluMlp`: its own LayerNorm (eps 1e-6), then w2(act(w0(x)) · w1(x)). */
export class GeGluMlp {
  readonly norm: LayerNorm;
  readonly w0: TimmLinear;
  readonly w1: TimmLinear;
  readonly w2: TimmLinear;
  constructor(store: ParamStore, prefix: string, dim: number, hidden: number, readonly act: ActivationName) {
    this.norm = new LayerNorm(store, join(prefix, 'norm'), dim, 1e-6);
    this.w0 = new TimmLinear(store, join(prefix, 'w0'), dim, hidden, true);
    this.w1 = new TimmLinear(store, join(prefix, 'w1'), dim, hidden, true);
    this.w2 = new TimmLinear(store, join(prefix, 'w2'), hidden, dim, true);
  }
  apply(x: Tensor): Tensor {
    return tf.tidy(() => {
      const h = this.norm.apply(x);
      return this.w2.apply(tf.mul(activate(this.w0.apply(h), this.act), this.w1.apply(h)));
    });
  }
}

/** timm `LayerScale` (`gamma`). */
export class TimmLayerScale {
  readonly gamma: tf.Variable;
  constructor(store: ParamStore, prefix: string, dim: number, initValue: number) {
    this.gamma = store.param(join(prefix, 'gamma'), [dim], constant(initValue));
  }
  apply(x: Tensor): Tensor {
    return tf.mul(x, this.gamma);
  }
}

/** timm `Attention`: fused qkv [3·D, D], optional q/k LayerNorm over the head dimension, proj. */
export class TimmAttention {
  readonly qkv: TimmLinear;
  readonly qNorm: LayerNorm | null;
  readonly kNorm: LayerNorm | null;
  readonly proj: TimmLinear;
  readonly headDim: number;
  constructor(store: ParamStore, prefix: string, dim: number, readonly heads: number, o: { qkvBias: boolean; qkNorm: boolean; eps: number }) {
    if (dim % heads !== 0) throw new Error(`${prefix}: embed_dim ${dim} is not divisible by ${heads} heads`);
    this.headDim = dim / heads;
    this.qkv = new TimmLinear(store, join(prefix, 'qkv'), dim, 3 * dim, o.qkvBias);
    this.qNorm = o.qkNorm ? new LayerNorm(store, join(prefix, 'q_norm'), this.headDim, o.eps) : null;
    this.kNorm = o.qkNorm ? new LayerNorm(store, join(prefix, 'k_norm'), this.headDim, o.eps) : null;
    this.proj = new TimmLinear(store, join(prefix, 'proj'), dim, dim, true);
  }
  apply(x: Tensor): Tensor {
    return tf.tidy(() => {
      const [q0, k0, v] = splitQkvHeads(this.qkv.apply(x), this.heads);
      const q = this.qNorm ? this.qNorm.apply(q0) : q0;
      const k = this.kNorm ? this.kNorm.apply(k0) : k0;
      return this.proj.apply(mergeHeads(ops.attention(q, k, v)));
    });
  }
}

export interface TimmBlockOptions {
  mlpRatio: number;
  /** timm `mlp_layer`: `Mlp` (default) or ViTamin's `GeGluMlp`. */
  mlpLayer?: 'mlp' | 'geglu';
  /** Stochastic depth of this block (timm DropPath, train mode only) and the RNG drawing it. */
  dropPath?: { rate: number; rng: Rng };
  qkvBias: boolean;
  qkNorm: boolean;
  initValues: number | null;
  act: ActivationName;
  eps: number;
}

/**
 * timm `DropPath` in train mode: each sample's residual branch is zeroed with probability `rate`,
 * the kept ones scaled by 1/(1 - rate) (per-sample draws from `rng`).
 */
export function dropPath(x: Tensor, rate: number, rng: Rng): Tensor {
  if (rate <= 0) return x;
  return tf.tidy(() => {
    const b = x.shape[0]!;
    const keep = 1 - rate;
    const mask = new Float32Array(b);
    for (let i = 0; i < b; i++) mask[i] = rng.uniform() < keep ? 1 / keep : 0;
    return tf.mul(x, tf.tensor(mask, [b, ...x.shape.slice(1).map(() => 1)]));
  });
}

/** timm `calculate_drop_path_rates(rate, depths)`: linearly 0 → rate over all blocks, split per stage. */
export function dropPathRates(rate: number, depths: readonly number[]): number[][] {
  const total = depths.reduce((a, b) => a + b, 0);
  const all = Array.from({ length: total }, (_, i) => (total > 1 ? Math.fround((rate * i) / (total - 1)) : 0));
  const out: number[][] = [];
  let at = 0;
  for (const d of depths) {
    out.push(all.slice(at, at + d));
    at += d;
  }
  return out;
}

/** timm `Block`: x + ls1(attn(norm1(x))), then x + ls2(mlp(norm2(x))) (each branch through DropPath in train mode). */
export class TimmBlock {
  readonly norm1: LayerNorm;
  readonly attn: TimmAttention;
  readonly ls1: TimmLayerScale | null;
  readonly norm2: LayerNorm;
  readonly mlp: { apply(x: Tensor): Tensor };
  readonly ls2: TimmLayerScale | null;
  readonly dropPath: { rate: number; rng: Rng } | null;
  constructor(store: ParamStore, prefix: string, dim: number, heads: number, o: TimmBlockOptions) {
    this.norm1 = new LayerNorm(store, join(prefix, 'norm1'), dim, o.eps);
    this.attn = new TimmAttention(store, join(prefix, 'attn'), dim, heads, { qkvBias: o.qkvBias, qkNorm: o.qkNorm, eps: o.eps });
    this.ls1 = o.initValues ? new TimmLayerScale(store, join(prefix, 'ls1'), dim, o.initValues) : null;
    this.norm2 = new LayerNorm(store, join(prefix, 'norm2'), dim, o.eps);
    const hidden = Math.floor(dim * o.mlpRatio);
    this.mlp = o.mlpLayer === 'geglu'
      ? new GeGluMlp(store, join(prefix, 'mlp'), dim, hidden, o.act)
      : new TimmMlp(store, join(prefix, 'mlp'), dim, hidden, dim, o.act);
    this.ls2 = o.initValues ? new TimmLayerScale(store, join(prefix, 'ls2'), dim, o.initValues) : null;
    this.dropPath = o.dropPath && o.dropPath.rate > 0 ? o.dropPath : null;
  }
  apply(x: Tensor, training = false): Tensor {
    return tf.tidy(() => {
      const drop = (t: Tensor) => (training && this.dropPath ? dropPath(t, this.dropPath.rate, this.dropPath.rng) : t);
      let a = this.attn.apply(this.norm1.apply(x));
      if (this.ls1) a = this.ls1.apply(a);
      const x1 = tf.add(x, drop(a));
      let m = this.mlp.apply(this.norm2.apply(x1));
      if (this.ls2) m = this.ls2.apply(m);
      return tf.add(x1, drop(m));
    });
  }
}

/**
 * timm `AttentionPoolLatent` (MAP head) with one latent query: q(latent) attends over kv(x), then
 * proj, then a residual MLP on norm(x); the latent token is returned ([B, D]).
 */
export class AttentionPoolLatent {
  readonly latent: tf.Variable;
  readonly q: TimmLinear;
  readonly kv: TimmLinear;
  readonly proj: TimmLinear;
  readonly norm: LayerNorm;
  readonly mlp: TimmMlp;
  readonly headDim: number;
  constructor(store: ParamStore, prefix: string, dim: number, readonly heads: number, mlpRatio: number, act: ActivationName, eps: number) {
    if (dim % heads !== 0) throw new Error(`${prefix}: embed_dim ${dim} is not divisible by ${heads} attention-pool heads`);
    this.headDim = dim / heads;
    this.latent = store.param(join(prefix, 'latent'), [1, 1, dim], truncNormalTf(dim ** -0.5));
    this.q = new TimmLinear(store, join(prefix, 'q'), dim, dim, true);
    this.kv = new TimmLinear(store, join(prefix, 'kv'), dim, 2 * dim, true);
    this.proj = new TimmLinear(store, join(prefix, 'proj'), dim, dim, true);
    this.norm = new LayerNorm(store, join(prefix, 'norm'), dim, eps);
    this.mlp = new TimmMlp(store, join(prefix, 'mlp'), dim, Math.floor(dim * mlpRatio), dim, act);
  }
  apply(x: Tensor): Tensor {
    return tf.tidy(() => {
      const [b, n, d] = x.shape as [number, number, number];
      const q1 = splitHeads(this.q.apply(this.latent), this.heads); // [1, H, 1, hd]
      const q = tf.tile(q1, [b, 1, 1, 1]);
      const kv = tf.transpose(tf.reshape(this.kv.apply(x), [b, n, 2, this.heads, this.headDim]), [2, 0, 3, 1, 4]);
      const [k, v] = tf.unstack(kv);
      let y = this.proj.apply(tf.reshape(mergeHeads(ops.attention(q, k, v)), [b, 1, d]));
      y = tf.add(y, this.mlp.apply(this.norm.apply(y)));
      return tf.reshape(y, [b, d]);
    });
  }
}

/** One rule of a timm `group_matcher`: a regex and the group ordinal prefix; `merge` joins the previous group (MATCH_PREV_GROUP). */
export interface GroupRule {
  re: RegExp;
  ordinal: number;
  /** Use the capture groups as further ordinals (e.g. the stage and block index). */
  indexed: boolean;
  /** Ordinals after the captures (timm's per-pattern suffix, e.g. `(0,)`). */
  suffix?: number[];
  merge?: boolean;
}

/**
 * timm's `group_parameters(model, group_matcher)`: parameter names (relative to the trunk) in
 * layer groups 0..N, in order; names no rule matches go to the last group.
 */
export function groupParameters(names: readonly string[], rules: readonly GroupRule[]): string[][] {
  const MERGE = 99999;
  const keyOf = (name: string): number[] => {
    for (const r of rules) {
      const m = r.re.exec(name);
      if (m && m.index === 0) {
        if (r.merge) return [r.ordinal, MERGE];
        const captures = r.indexed ? m.slice(1).map(Number) : [];
        return [r.ordinal, ...captures, ...(r.suffix ?? [])];
      }
    }
    return [Infinity];
  };
  const byKey = new Map<string, { key: number[]; names: string[] }>();
  for (const n of names) {
    const key = keyOf(n);
    const id = key.join(',');
    if (!byKey.has(id)) byKey.set(id, { key, names: [] });
    byKey.get(id)!.names.push(n);
  }
  const cmp = (a: number[], b: number[]) => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
    return a.length - b.length;
  };
  const groups: string[][] = [];
  for (const { key, names: ns } of [...byKey.values()].sort((a, b) => cmp(a.key, b.key))) {
    if (groups.length === 0 || key[key.length - 1] !== MERGE) groups.push([]);
    groups[groups.length - 1].push(...ns);
  }
  return groups;
}
