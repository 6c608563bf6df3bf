/**
 * timm's `Eva` (EVA, EVA02 and Perception Encoder towers) under its own parameter names: absolute
 * position embedding plus 2-D rotary embedding (RoPE, timm's `RotaryEmbeddingCat`: interleaved
 * pairs, reference-grid rescaling, grid offset, 'ij'/'xy' indexing) on the patch tokens of q and k,
 * EVA attention (fused qkv with `q_bias`/`v_bias`, or separate `q_proj`/`k_proj`/`v_proj` with no k
 * bias; inner `norm` with scale_attn_inner) or PE's `AttentionRope` (fused biased `qkv`), SwiGLU MLP
 * (`fc1_g`/`fc1_x`, inner `norm`) or GELU MLP, layer scale (`gamma_1`/`gamma_2`), pre / post /
 * fc norms, residual post-norm blocks (EVA02-E), token / avg / MAP pooling and the classifier `head` OpenCLIP uses as projection.
 */
import { tf, ops, Rng } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import { constant, torchDefaultBias, torchDefaultWeight, truncNormal, zeros } from '../../init/initializers.js';
import { LayerNorm, mergeHeads, splitHeads, splitQkvHeads } from '../layers.js';
import type { ActivationName } from '../layers.js';
import { join } from '../params.js';
import type { ParamStore } from '../params.js';
import type { ActivationHook } from '../vision-transformer.js';
import { AttentionPoolLatent, TimmLinear, TimmMlp, timmActivation, timmRescaledLinear } from './timm-layers.js';
import type { GroupRule } from './timm-layers.js';
import type { TimmArgs } from './timm-registry.js';
import { gatherKeptTokens, globalPoolTokens, patchKeepIndices, patchifyNchw } from './timm-vit.js';
import type { TimmTrunkOptions } from './timm-vit.js';

const EVA_POOLS = ['', 'avg', 'avgmax', 'max', 'token', 'map'];

/**
 * timm's `build_rotary_pos_embed` (language-style bands, not in pixels) for a [gh, gw] patch grid:
 * [gh·gw, 2·dim] = sin | cos, each with every frequency repeated twice (interleaved pairs). Computed
 * in float32 steps as PyTorch does.
 */
export function rotaryEmbedCat(grid: [number, number], dim: number, o: { temperature?: number; refFeatShape?: [number, number] | null; gridOffset?: number; indexing?: 'ij' | 'xy' }): Float32Array {
  const f = Math.fround;
  const nb = Math.floor(dim / 4);
  const temperature = o.temperature ?? 10000;
  const bands = Array.from({ length: nb }, (_, i) => f(1 / f(temperature ** f(i / nb))));
  const xy = o.indexing === 'xy';
  // Axis order of the meshgrid: 'ij' → (row, col); 'xy' swaps the shapes, so the first component runs along columns.
  const shape: [number, number] = xy ? [grid[1], grid[0]] : grid;
  const ref = o.refFeatShape ? (xy ? [o.refFeatShape[1], o.refFeatShape[0]] : o.refFeatShape) : null;
  const coord = (axis: 0 | 1, i: number) => {
    let t = f(i + (o.gridOffset ?? 0));
    if (ref) t = f(f(t / shape[axis]) * ref[axis]);
    return t;
  };
  const [gh, gw] = grid;
  const n = gh * gw;
  const out = new Float32Array(n * 2 * dim);
  for (let r = 0; r < gh; r++) {
    for (let c = 0; c < gw; c++) {
      const p = r * gw + c;
      const comps = xy ? [coord(0, c), coord(1, r)] : [coord(0, r), coord(1, c)];
      for (let a = 0; a < 2; a++) {
        for (let k = 0; k < nb; k++) {
          const v = f(comps[a] * bands[k]);
          const s = Math.fround(Math.sin(v));
          const co = Math.fround(Math.cos(v));
          const j = 2 * (a * nb + k);
          out[p * 2 * dim + j] = s;
          out[p * 2 * dim + j + 1] = s;
          out[p * 2 * dim + dim + j] = co;
          out[p * 2 * dim + dim + j + 1] = co;
        }
      }
    }
  }
  return out;
}

/** x·cos + rot(x)·sin with rot([x0, x1, x2, x3, …]) = [-x1, x0, -x3, x2, …] (timm's `apply_rot_embed_cat`). */
export function applyRope(x: Tensor, sin: Tensor, cos: Tensor): Tensor {
  return tf.tidy(() => {
    const shape = x.shape;
    const d = shape[shape.length - 1]!;
    const pairs = tf.reshape(x, [...shape.slice(0, -1), d / 2, 2]);
    const [even, odd] = tf.unstack(pairs, pairs.rank - 1);
    const rot = tf.reshape(tf.stack([tf.neg(odd), even], -1), shape);
    return tf.add(tf.mul(x, cos), tf.mul(rot, sin));
  });
}

interface EvaBlockOptions {
  attnType: 'eva' | 'rope';
  qkvBias: boolean;
  qkvFused: boolean;
  scaleAttnInner: boolean;
  swiglu: boolean;
  scaleMlp: boolean;
  mlpRatio: number;
  initValues: number | null;
  act: ActivationName;
  eps: number;
  numPrefixTokens: number;
  /** timm's EvaBlockPostNorm (EVA02-E): x + norm1(attn(x)), then x + norm2(mlp(x)). */
  postNorm: boolean;
}

/** Init of a block's output projections (attn.proj, mlp.fc2): EVA's depth-rescaled fix_init_weight. */
type OutInit = ReturnType<typeof timmRescaledLinear>;

/** EVA attention / PE's AttentionRope: q, k, v projections, RoPE on the patch tokens of q and k, inner norm, proj. */
class EvaAttention {
  readonly qBias: tf.Variable | null = null;
  readonly vBias: tf.Variable | null = null;
  readonly qkv: TimmLinear | null = null;
  readonly qProj: TimmLinear | null = null;
  readonly kProj: TimmLinear | null = null;
  readonly vProj: TimmLinear | null = null;
  readonly norm: LayerNorm | null;
  readonly proj: TimmLinear;
  constructor(store: ParamStore, prefix: string, readonly dim: number, readonly heads: number, private readonly o: EvaBlockOptions, outInit: OutInit) {
    if (dim % heads !== 0) throw new Error(`${prefix}: embed_dim ${dim} is not divisible by ${heads} heads`);
    if (o.attnType === 'eva') {
      if (o.qkvFused) {
        // Own parameters (q_bias, v_bias) come before the qkv submodule in PyTorch's state_dict.
        if (o.qkvBias) {
          this.qBias = store.param(join(prefix, 'q_bias'), [dim], zeros);
          this.vBias = store.param(join(prefix, 'v_bias'), [dim], zeros);
        }
        this.qkv = new TimmLinear(store, join(prefix, 'qkv'), dim, 3 * dim, false);
      } else {
        this.qProj = new TimmLinear(store, join(prefix, 'q_proj'), dim, dim, o.qkvBias);
        this.kProj = new TimmLinear(store, join(prefix, 'k_proj'), dim, dim, false);
        this.vProj = new TimmLinear(store, join(prefix, 'v_proj'), dim, dim, o.qkvBias);
      }
    } else if (o.qkvFused) {
      this.qkv = new TimmLinear(store, join(prefix, 'qkv'), dim, 3 * dim, o.qkvBias);
    } else {
      this.qProj = new TimmLinear(store, join(prefix, 'q_proj'), dim, dim, o.qkvBias);
      this.kProj = new TimmLinear(store, join(prefix, 'k_proj'), dim, dim, o.qkvBias);
      this.vProj = new TimmLinear(store, join(prefix, 'v_proj'), dim, dim, o.qkvBias);
    }
    this.norm = o.scaleAttnInner ? new LayerNorm(store, join(prefix, 'norm'), dim, o.eps) : null;
    this.proj = new TimmLinear(store, join(prefix, 'proj'), dim, dim, true, outInit);
  }

  apply(x: Tensor, rope: { sin: Tensor; cos: Tensor } | null): Tensor {
    return tf.tidy(() => {
      let q: Tensor;
      let k: Tensor;
      let v: Tensor;
      if (this.qkv) {
        // timm keeps k's bias as a zero (non-persistent) buffer.
        const bias = this.qBias ? tf.concat([this.qBias, tf.zerosLike(this.qBias), this.vBias!]) : null;
        const qkv = bias ? ops.linear(x, this.qkv.weight, bias) : this.qkv.apply(x);
        [q, k, v] = splitQkvHeads(qkv, this.heads);
      } else {
        [q, k, v] = [splitHeads(this.qProj!.apply(x), this.heads), splitHeads(this.kProj!.apply(x), this.heads), splitHeads(this.vProj!.apply(x), this.heads)];
      }
      if (rope) {
        const npt = this.o.numPrefixTokens;
        const rot = (t: Tensor) => {
          if (npt === 0) return applyRope(t, rope.sin, rope.cos);
          const n = t.shape[2]!;
          const head = tf.slice(t, [0, 0, 0, 0], [-1, -1, npt, -1]);
          const rest = tf.slice(t, [0, 0, npt, 0], [-1, -1, n - npt, -1]);
          return tf.concat([head, applyRope(rest, rope.sin, rope.cos)], 2);
        };
        q = rot(q);
        k = rot(k);
      }
      let y = mergeHeads(ops.attention(q, k, v));
      if (this.norm) y = this.norm.apply(y);
      return this.proj.apply(y);
    });
  }
}

/** timm `SwiGLU`: silu(fc1_g(x)) · fc1_x(x) → norm → fc2. */
class SwiGlu {
  readonly fc1g: TimmLinear;
  readonly fc1x: TimmLinear;
  readonly norm: LayerNorm | null;
  readonly fc2: TimmLinear;
  constructor(store: ParamStore, prefix: string, dim: number, hidden: number, norm: boolean, eps: number, outInit: OutInit) {
    this.fc1g = new TimmLinear(store, join(prefix, 'fc1_g'), dim, hidden, true);
    this.fc1x = new TimmLinear(store, join(prefix, 'fc1_x'), dim, hidden, true);
    this.norm = norm ? new LayerNorm(store, join(prefix, 'norm'), hidden, eps) : null;
    this.fc2 = new TimmLinear(store, join(prefix, 'fc2'), hidden, dim, true, outInit);
  }
  apply(x: Tensor): Tensor {
    return tf.tidy(() => {
      const g = this.fc1g.apply(x);
      let h = tf.mul(tf.mul(g, tf.sigmoid(g)), this.fc1x.apply(x));
      if (this.norm) h = this.norm.apply(h);
      return this.fc2.apply(h);
    });
  }
}

/** timm `EvaBlock` (pre-norm): x + γ1·attn(norm1(x), rope), then x + γ2·mlp(norm2(x)); or `EvaBlockPostNorm`. */
class EvaBlock {
  readonly gamma1: tf.Variable | null;
  readonly gamma2: tf.Variable | null;
  readonly norm1: LayerNorm;
  readonly attn: EvaAttention;
  readonly norm2: LayerNorm;
  readonly mlp: SwiGlu | TimmMlp;
  readonly postNorm: boolean;
  constructor(store: ParamStore, prefix: string, dim: number, heads: number, o: EvaBlockOptions, index: number) {
    this.postNorm = o.postNorm;
    const outInit = timmRescaledLinear(index);
    if (o.postNorm && o.initValues !== null) throw new Error(`${prefix}: post-norm Eva blocks have no layer scale (init_values)`);
    if (o.swiglu && !o.scaleMlp) throw new Error(`${prefix}: swiglu_mlp without scale_mlp (timm's GluMlp) is not supported`);
    const hidden = Math.floor(dim * o.mlpRatio);
    const mlp = () => (o.swiglu
      ? new SwiGlu(store, join(prefix, 'mlp'), dim, hidden, o.scaleMlp, o.eps, outInit)
      : new TimmMlp(store, join(prefix, 'mlp'), dim, hidden, dim, o.act, { norm: o.scaleMlp, eps: o.eps, fc2Init: outInit }));
    // Registration (= state_dict) order differs between the two block types.
    if (o.postNorm) {
      this.gamma1 = null;
      this.gamma2 = null;
      this.attn = new EvaAttention(store, join(prefix, 'attn'), dim, heads, o, outInit);
      this.norm1 = new LayerNorm(store, join(prefix, 'norm1'), dim, o.eps);
      this.mlp = mlp();
      this.norm2 = new LayerNorm(store, join(prefix, 'norm2'), dim, o.eps);
      return;
    }
    this.gamma1 = o.initValues !== null ? store.param(join(prefix, 'gamma_1'), [dim], constant(o.initValues)) : null;
    this.gamma2 = o.initValues !== null ? store.param(join(prefix, 'gamma_2'), [dim], constant(o.initValues)) : null;
    this.norm1 = new LayerNorm(store, join(prefix, 'norm1'), dim, o.eps);
    this.attn = new EvaAttention(store, join(prefix, 'attn'), dim, heads, o, outInit);
    this.norm2 = new LayerNorm(store, join(prefix, 'norm2'), dim, o.eps);
    this.mlp = mlp();
  }
  apply(x: Tensor, rope: { sin: Tensor; cos: Tensor } | null): Tensor {
    return tf.tidy(() => {
      if (this.postNorm) {
        const x1 = tf.add(x, this.norm1.apply(this.attn.apply(x, rope)));
        return tf.add(x1, this.norm2.apply(this.mlp.apply(x1)));
      }
      let a = this.attn.apply(this.norm1.apply(x), rope);
      if (this.gamma1) a = tf.mul(a, this.gamma1);
      const x1 = tf.add(x, a);
      let m = this.mlp.apply(this.norm2.apply(x1));
      if (this.gamma2) m = tf.mul(m, this.gamma2);
      return tf.add(x1, m);
    });
  }
}

export class TimmEva {
  readonly family = 'eva' as const;
  readonly imageSize: [number, number];
  readonly patchSize: [number, number];
  readonly gridSize: [number, number];
  readonly embedDim: number;
  readonly numPrefixTokens: number;
  readonly noEmbedClass: boolean;
  readonly globalPool: string;
  readonly eps: number;
  numFeatures: number;
  patchDropRate: number;
  training = false;
  rng: Rng;

  readonly clsToken: tf.Variable | null;
  readonly posEmbed: tf.Variable | null;
  readonly patchWeight: tf.Variable;
  readonly patchBias: tf.Variable | null;
  readonly normPre: LayerNorm | null;
  readonly blocks: EvaBlock[] = [];
  readonly norm: LayerNorm | null;
  readonly attnPool: AttentionPoolLatent | null;
  readonly fcNorm: LayerNorm | null;
  readonly head: TimmLinear | null;
  /** RoPE sin / cos [N, headDim] for the patch grid (constants, not parameters). */
  private readonly ropeSin: Tensor | null = null;
  private readonly ropeCos: Tensor | null = null;

  constructor(store: ParamStore, readonly prefix: string, args: TimmArgs, o: TimmTrunkOptions) {
    const where = prefix;
    const p = args.patch_size;
    this.patchSize = [p, p];
    this.imageSize = o.imageSize;
    this.gridSize = [Math.floor(o.imageSize[0] / p), Math.floor(o.imageSize[1] / p)];
    if (this.gridSize[0] < 1 || this.gridSize[1] < 1) throw new Error(`${where}: image size ${o.imageSize} is smaller than patch ${p}`);
    if (args.reg_tokens) throw new Error(`${where}: Eva register tokens are not supported`);
    const d = args.embed_dim;
    const heads = args.num_heads;
    this.embedDim = d;
    this.numFeatures = d;
    this.eps = args.norm_eps ?? 1e-6;
    const act = timmActivation(args.act_layer, where);
    const globalPool = o.globalPool ?? args.global_pool ?? 'avg';
    if (!EVA_POOLS.includes(globalPool)) throw new Error(`${where}: timm global_pool '${globalPool}' is not supported (${EVA_POOLS.map((x) => `'${x}'`).join(', ')})`);
    if (globalPool === 'map' && args.global_pool !== 'map') throw new Error(`${where}: attention pooling ('map') cannot be added to a timm model built without it`);
    this.globalPool = globalPool;
    const classToken = args.class_token ?? true;
    if (globalPool === 'token' && !classToken) throw new Error(`${where}: global_pool 'token' needs a class token`);
    this.numPrefixTokens = classToken ? 1 : 0;
    this.noEmbedClass = args.no_embed_class ?? false;
    const preNorm = args.use_pre_transformer_norm ?? false;
    const fcNorm = args.use_fc_norm ?? (args.global_pool ?? 'avg') === 'avg';
    const postNorm = args.use_post_transformer_norm ?? !fcNorm;
    this.patchDropRate = o.patchDropRate;
    this.rng = o.rng;

    this.clsToken = classToken ? store.param(join(prefix, 'cls_token'), [1, 1, d], truncNormal(0.02)) : null;
    const nPos = this.gridSize[0] * this.gridSize[1] + (this.noEmbedClass ? 0 : this.numPrefixTokens);
    this.posEmbed = (args.use_abs_pos_emb ?? true) ? store.param(join(prefix, 'pos_embed'), [1, nPos, d], truncNormal(0.02)) : null;
    const fanIn = 3 * p * p;
    this.patchWeight = store.param(join(prefix, 'patch_embed.proj.weight'), [d, 3, p, p], torchDefaultWeight(fanIn));
    this.patchBias = preNorm ? null : store.param(join(prefix, 'patch_embed.proj.bias'), [d], torchDefaultBias(fanIn));
    if (args.use_rot_pos_emb) {
      const ref = args.ref_feat_shape == null ? null : typeof args.ref_feat_shape === 'number' ? [args.ref_feat_shape, args.ref_feat_shape] as [number, number] : args.ref_feat_shape;
      const headDim = d / heads;
      const emb = rotaryEmbedCat(this.gridSize, headDim, { refFeatShape: ref, gridOffset: args.rope_grid_offset ?? 0, indexing: args.rope_grid_indexing ?? 'ij' });
      const n = this.gridSize[0] * this.gridSize[1];
      const both = tf.tensor2d(emb, [n, 2 * headDim]);
      const [sin, cos] = tf.split(both, 2, 1);
      this.ropeSin = tf.keep(sin);
      this.ropeCos = tf.keep(cos);
      both.dispose();
    }
    this.normPre = preNorm ? new LayerNorm(store, join(prefix, 'norm_pre'), d, this.eps) : null;
    const attnType = args.attn_type ?? 'eva';
    if (attnType !== 'eva' && attnType !== 'rope') throw new Error(`${where}: Eva attn_type '${attnType}' is not supported ('eva', 'rope')`);
    const blockOptions: EvaBlockOptions = {
      attnType, qkvBias: args.qkv_bias ?? true, qkvFused: args.qkv_fused ?? true, scaleAttnInner: args.scale_attn_inner ?? false,
      swiglu: args.swiglu_mlp ?? false, scaleMlp: args.scale_mlp ?? false, mlpRatio: args.mlp_ratio ?? 4, initValues: args.init_values ?? null,
      act, eps: this.eps, numPrefixTokens: this.numPrefixTokens, postNorm: args.use_post_norm ?? false,
    };
    for (let i = 0; i < args.depth; i++) this.blocks.push(new EvaBlock(store, join(prefix, `blocks.${i}`), d, heads, blockOptions, i));
    this.norm = postNorm ? new LayerNorm(store, join(prefix, 'norm'), d, this.eps) : null;
    this.attnPool = globalPool === 'map'
      ? new AttentionPoolLatent(store, join(prefix, 'attn_pool'), d, args.attn_pool_num_heads ?? heads, args.attn_pool_mlp_ratio ?? args.mlp_ratio ?? 4, 'gelu', this.eps)
      : null;
    this.fcNorm = fcNorm ? new LayerNorm(store, join(prefix, 'fc_norm'), d, this.eps) : null;
    this.head = o.numClasses > 0 ? new TimmLinear(store, join(prefix, 'head'), d, o.numClasses, true) : null;
    if (o.numClasses > 0) this.numFeatures = o.numClasses;
  }

  /** timm's `group_matcher` of Eva (the same rules as VisionTransformer). */
  groupRules(): GroupRule[] {
    return [
      { re: /cls_token|reg_token|pos_embed|patch_embed/, ordinal: 0, indexed: false },
      { re: /blocks\.(\d+)/, ordinal: 1, indexed: true },
      { re: /norm/, ordinal: 1, indexed: false, merge: true },
    ];
  }

  /** Tokens entering the blocks and the RoPE sin/cos for their patch positions ([N, hd], or [B, 1, N', hd] after patch dropout). */
  private embed(images: Tensor): { x: Tensor; rope: { sin: Tensor; cos: Tensor } | null } {
    return tf.tidy(() => {
      const b = images.shape[0]!;
      const d = this.embedDim;
      let x = ops.linear(patchifyNchw(images, this.patchSize, this.gridSize), tf.reshape(this.patchWeight, [d, -1]), this.patchBias);
      const cls = this.clsToken ? tf.tile(this.clsToken, [b, 1, 1]) : null;
      if (this.noEmbedClass) {
        if (this.posEmbed) x = tf.add(x, this.posEmbed);
        if (cls) x = tf.concat([cls, x], 1);
      } else {
        if (cls) x = tf.concat([cls, x], 1);
        if (this.posEmbed) x = tf.add(x, this.posEmbed);
      }
      let rope = this.ropeSin ? { sin: tf.clone(this.ropeSin), cos: tf.clone(this.ropeCos!) } : null;
      if (this.training && this.patchDropRate > 0) {
        const keep = patchKeepIndices(b, x.shape[1]! - this.numPrefixTokens, this.patchDropRate, this.rng);
        x = gatherKeptTokens(x, this.numPrefixTokens, keep);
        if (rope) {
          const pick = (t: Tensor) => tf.expandDims(tf.stack(keep.map((k) => tf.gather(t, tf.tensor1d(k, 'int32')))), 1);
          rope = { sin: pick(rope.sin), cos: pick(rope.cos) };
        }
      }
      if (this.normPre) x = this.normPre.apply(x);
      return { x, rope } as unknown as tf.TensorContainer;
    }) as unknown as { x: Tensor; rope: { sin: Tensor; cos: Tensor } | null };
  }

  forwardFeatures(images: Tensor, hook?: ActivationHook): { tokens: Tensor; pooled: Tensor } {
    return tf.tidy(() => {
      const { x: x0, rope } = this.embed(images);
      let x = x0;
      hook?.('after_norm_pre', x);
      this.blocks.forEach((blk, i) => {
        x = blk.apply(x, rope);
        hook?.(`block${i}_out`, x);
      });
      if (this.norm) x = this.norm.apply(x);
      hook?.('norm_out', x);
      let pooled = this.attnPool ? this.attnPool.apply(x) : globalPoolTokens(x, this.globalPool, this.numPrefixTokens);
      if (this.fcNorm) pooled = this.fcNorm.apply(pooled);
      hook?.('pooled', pooled);
      return { tokens: x, pooled };
    });
  }

  forward(images: Tensor, hook?: ActivationHook): Tensor {
    return tf.tidy(() => {
      const { pooled } = this.forwardFeatures(images, hook);
      return this.head ? this.head.apply(pooled) : pooled;
    });
  }

  dispose(): void {
    this.ropeSin?.dispose();
    this.ropeCos?.dispose();
  }
}
