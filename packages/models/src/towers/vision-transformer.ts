/**
 * OpenCLIP's `VisionTransformer` (transformer.py): patch embedding (conv1 without bias, done as
 * patchify + matmul), class token, learnable or 2-D sin-cos position embedding, PatchDropout,
 * ln_pre, the block stack, `tok`/`avg`/`none` pooling, `final_ln_after_pool`, the attentional
 * pooler (CoCa; also 'parallel'/'cascade'), ln_post, `proj`, and `output_tokens`.
 */
import { tf, ops, Rng } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import type { VisionConfig } from '../config/model-config.js';
import { normal, torchDefaultWeight } from '../init/initializers.js';
import { LayerNorm, MultiheadAttention, Transformer, activationFor, blockOptionsFromConfig } from './layers.js';
import type { ActivationName } from './layers.js';
import { join } from './params.js';
import type { ParamStore } from './params.js';

/** Debug hook for intermediate activations ('after_ln_pre', 'block<i>_out', 'ln_post_out'). */
export type ActivationHook = (name: string, x: Tensor) => void;

export function toPair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

/** MAE's `get_2d_sincos_pos_embed(dim, grid, cls_token=True)` as OpenCLIP uses it (float64, then float32). */
export function sinCos2dPosEmbed(dim: number, grid: number): Float32Array {
  if (dim % 4 !== 0) throw new Error(`sin_cos_2d position embedding needs a width divisible by 4, got ${dim}`);
  const out = new Float32Array((grid * grid + 1) * dim);
  const quarter = dim / 4;
  const omega = Array.from({ length: quarter }, (_, i) => 1 / 10000 ** (i / quarter));
  for (let r = 0; r < grid; r++) {
    for (let c = 0; c < grid; c++) {
      const row = (1 + r * grid + c) * dim;
      // First half from the column coordinate, second half from the row coordinate (MAE's meshgrid order).
      for (const [half, pos] of [[0, c], [1, r]] as const) {
        const base = row + half * (dim / 2);
        for (let i = 0; i < quarter; i++) {
          out[base + i] = Math.sin(pos * omega[i]);
          out[base + quarter + i] = Math.cos(pos * omega[i]);
        }
      }
    }
  }
  return out;
}

/** OpenCLIP's `AttentionalPooler`: learned queries (ln_q) attend over ln_k(x) with nn.MultiheadAttention. */
export class AttentionalPooler {
  readonly query: tf.Variable;
  readonly attn: MultiheadAttention;
  readonly lnQ: LayerNorm;
  readonly lnK: LayerNorm;
  constructor(store: ParamStore, prefix: string, dModel: number, contextDim: number, heads: number, queries: number, eps: number) {
    this.query = store.param(join(prefix, 'query'), [queries, dModel], normal(1));
    this.attn = new MultiheadAttention(store, join(prefix, 'attn'), dModel, heads, { kdim: contextDim });
    this.lnQ = new LayerNorm(store, join(prefix, 'ln_q'), dModel, eps);
    this.lnK = new LayerNorm(store, join(prefix, 'ln_k'), contextDim, eps);
  }

  /** [B, T, contextDim] → [B, queries, dModel] */
  apply(x: Tensor): Tensor {
    return tf.tidy(() => {
      const b = x.shape[0];
      const k = this.lnK.apply(x);
      const q = this.lnQ.apply(this.query);
      const qb = tf.tile(tf.expandDims(q, 0), [b, 1, 1]);
      return this.attn.apply(qb, k);
    });
  }
}

export interface VisionTowerOptions {
  /** The embedding (output) dimension: the model's `embed_dim`. */
  outputDim: number;
  quickGelu: boolean;
  /** Random source of PatchDropout in train mode. */
  rng?: Rng;
}

export class VisionTransformer {
  readonly kind = 'vit' as const;
  readonly imageSize: [number, number];
  readonly patchSize: [number, number];
  readonly gridSize: [number, number];
  readonly width: number;
  readonly heads: number;
  readonly outputDim: number;
  readonly act: ActivationName;
  readonly eps: number;
  readonly poolType: 'tok' | 'avg' | 'none';
  readonly attnPoolType: '' | 'parallel' | 'cascade' | null;
  readonly outputTokens: boolean;
  readonly finalLnAfterPool: boolean;
  patchDropout: number;
  training = false;
  rng: Rng;

  readonly classEmbedding: tf.Variable;
  readonly positionalEmbedding: tf.Variable;
  readonly proj: tf.Variable;
  readonly conv1Weight: tf.Variable;
  readonly lnPre: LayerNorm | null;
  readonly transformer: Transformer;
  readonly attnPool: AttentionalPooler | null = null;
  readonly attnPoolContrastive: AttentionalPooler | null = null;
  readonly lnPost: LayerNorm;

  constructor(store: ParamStore, readonly prefix: string, readonly cfg: VisionConfig, o: VisionTowerOptions) {
    if (typeof cfg.layers !== 'number') throw new Error(`${prefix}: VisionTransformer needs an integer vision_cfg.layers`);
    if (cfg.patch_size === null) throw new Error(`${prefix}: VisionTransformer needs vision_cfg.patch_size`);
    this.imageSize = toPair(cfg.image_size);
    this.patchSize = toPair(cfg.patch_size);
    this.gridSize = [Math.floor(this.imageSize[0] / this.patchSize[0]), Math.floor(this.imageSize[1] / this.patchSize[1])];
    if (this.gridSize[0] < 1 || this.gridSize[1] < 1) {
      throw new Error(`${prefix}: image_size ${this.imageSize} is smaller than patch_size ${this.patchSize}`);
    }
    this.width = cfg.width;
    if (cfg.width % cfg.head_width !== 0) throw new Error(`${prefix}: width ${cfg.width} is not a multiple of head_width ${cfg.head_width}`);
    this.heads = cfg.width / cfg.head_width;
    this.outputDim = o.outputDim;
    this.act = activationFor(o.quickGelu, cfg.act_kwargs, `${prefix} (vision_cfg)`);
    this.eps = (cfg.norm_kwargs?.eps as number | undefined) ?? 1e-5;
    this.outputTokens = cfg.output_tokens;
    this.finalLnAfterPool = cfg.final_ln_after_pool;
    this.patchDropout = cfg.patch_dropout;
    this.rng = o.rng ?? new Rng(0);

    const w = cfg.width;
    const scale = w ** -0.5;
    const nPos = this.gridSize[0] * this.gridSize[1] + 1;
    this.classEmbedding = store.param(join(prefix, 'class_embedding'), [w], normal(scale));
    if (cfg.pos_embed_type === 'sin_cos_2d') {
      if (this.gridSize[0] !== this.gridSize[1]) throw new Error(`${prefix}: sin_cos_2d position embedding supports square grids only (got ${this.gridSize})`);
      this.positionalEmbedding = store.param(join(prefix, 'positional_embedding'), [nPos, w],
        { kind: 'values', data: sinCos2dPosEmbed(w, this.gridSize[0]) }, { trainable: false });
    } else {
      this.positionalEmbedding = store.param(join(prefix, 'positional_embedding'), [nPos, w], normal(scale));
    }

    let poolDim = w;
    if (cfg.attentional_pool) {
      this.attnPoolType = cfg.attentional_pool === true ? '' : cfg.attentional_pool;
      this.poolType = cfg.attentional_pool === true ? cfg.pool_type : 'none';
      poolDim = o.outputDim;
    } else {
      this.attnPoolType = null;
      this.poolType = cfg.pool_type;
    }
    this.proj = store.param(join(prefix, 'proj'), [poolDim, o.outputDim], normal(scale));
    this.conv1Weight = store.param(join(prefix, 'conv1.weight'), [w, 3, this.patchSize[0], this.patchSize[1]],
      torchDefaultWeight(3 * this.patchSize[0] * this.patchSize[1]));
    this.lnPre = cfg.no_ln_pre ? null : new LayerNorm(store, join(prefix, 'ln_pre'), w, this.eps);
    this.transformer = new Transformer(store, join(prefix, 'transformer'), w, cfg.layers, this.heads, blockOptionsFromConfig(cfg, this.act, this.eps));
    if (this.attnPoolType !== null) {
      this.attnPool = new AttentionalPooler(store, join(prefix, 'attn_pool'), o.outputDim, w, cfg.attn_pooler_heads, cfg.attn_pooler_queries, this.eps);
      if (this.attnPoolType !== '') {
        this.attnPoolContrastive = new AttentionalPooler(store, join(prefix, 'attn_pool_contrastive'), o.outputDim, w, cfg.attn_pooler_heads, 1, this.eps);
      }
    }
    this.lnPost = new LayerNorm(store, join(prefix, 'ln_post'), poolDim, this.eps);
  }

  /** Non-overlapping patches of NCHW images as rows: [B, 3, H, W] → [B, gh·gw, 3·ph·pw] (conv1's weight order). */
  patchify(x: Tensor): Tensor {
    return tf.tidy(() => {
      const [b, c] = x.shape as [number, number, number, number];
      const [ph, pw] = this.patchSize;
      const [gh, gw] = this.gridSize;
      let img = x;
      if (x.shape[2] !== gh * ph || x.shape[3] !== gw * pw) img = tf.slice(x, [0, 0, 0, 0], [b, c, gh * ph, gw * pw]);
      const t1 = tf.transpose(tf.reshape(img, [b * c * gh, ph, gw, pw]), [0, 2, 1, 3]); // [B·C·gh, gw, ph, pw]
      const t2 = tf.transpose(tf.reshape(t1, [b, c, gh * gw, ph * pw]), [0, 2, 1, 3]); // [B, L, C, ph·pw]
      return tf.reshape(t2, [b, gh * gw, c * ph * pw]);
    });
  }

  /** OpenCLIP's `PatchDropout` (train mode only): keeps max(1, int(L·(1-p))) patches chosen by top-k of normal noise, class token first. */
  private dropPatches(x: Tensor): Tensor {
    if (!this.training || this.patchDropout <= 0) return x;
    return tf.tidy(() => {
      const [b, t, d] = x.shape as [number, number, number];
      const n = t - 1;
      const keep = Math.max(1, Math.floor(n * (1 - this.patchDropout)));
      const idx = new Int32Array(b * (keep + 1));
      const noise = new Float64Array(n);
      const order = Array.from({ length: n }, (_, i) => i);
      for (let i = 0; i < b; i++) {
        for (let j = 0; j < n; j++) noise[j] = this.rng.normal();
        order.sort((p, q) => noise[q] - noise[p] || p - q);
        idx[i * (keep + 1)] = i * t;
        for (let j = 0; j < keep; j++) idx[i * (keep + 1) + 1 + j] = i * t + 1 + order[j];
      }
      const flat = tf.reshape(x, [b * t, d]);
      return tf.reshape(tf.gather(flat, tf.tensor1d(idx, 'int32')), [b, keep + 1, d]);
    });
  }

  /** Tokens entering the block stack: [B, 1 + L', width] (L' after patch dropout). */
  embed(images: Tensor, hook?: ActivationHook): Tensor {
    if (images.rank !== 4 || images.shape[1] !== 3) {
      throw new Error(`${this.prefix}: expected NCHW images [B, 3, ${this.imageSize[0]}, ${this.imageSize[1]}], got [${images.shape}]`);
    }
    if (images.shape[2] !== this.imageSize[0] || images.shape[3] !== this.imageSize[1]) {
      throw new Error(`${this.prefix}: images are ${images.shape[2]}x${images.shape[3]} but the model was built for ${this.imageSize[0]}x${this.imageSize[1]} (vision_cfg.image_size; use forceImageSize to change it)`);
    }
    return tf.tidy(() => {
      const b = images.shape[0];
      const w = this.width;
      const patches = this.patchify(images);
      const wFlat = tf.reshape(this.conv1Weight, [w, -1]);
      const emb = ops.linear(patches, wFlat);
      const cls = tf.tile(tf.reshape(this.classEmbedding, [1, 1, w]), [b, 1, 1]);
      let x = tf.add(tf.concat([cls, emb], 1), this.positionalEmbedding);
      x = this.dropPatches(x);
      if (this.lnPre) x = this.lnPre.apply(x);
      hook?.('after_ln_pre', x);
      return x;
    });
  }

  /** OpenCLIP's `_global_pool`; the token slice is only made when asked for (it is a full copy). */
  private globalPool(x: Tensor, wantTokens: boolean): { pooled: Tensor; tokens: Tensor | null } {
    const t = x.shape[1]!;
    const rest = () => tf.slice(x, [0, 1, 0], [-1, t - 1, -1]);
    if (this.poolType === 'avg') {
      const tokens = rest();
      return { pooled: tf.mean(tokens, 1), tokens };
    }
    if (this.poolType === 'tok') {
      return { pooled: tf.squeeze(tf.slice(x, [0, 0, 0], [-1, 1, -1]), [1]), tokens: wantTokens ? rest() : null };
    }
    return { pooled: x, tokens: x };
  }

  /** Pooled features after `proj` and the (unprojected) tokens, as OpenCLIP's forward with output_tokens. */
  forwardWithTokens(images: Tensor, hook?: ActivationHook): { pooled: Tensor; tokens: Tensor } {
    return tf.tidy(() => {
      const { pooled, tokens } = this.run(images, hook, true);
      return { pooled, tokens: tokens! };
    });
  }

  private run(images: Tensor, hook: ActivationHook | undefined, wantTokens: boolean): { pooled: Tensor; tokens: Tensor | null } {
    let x = this.embed(images, hook);
    x = this.transformer.apply(x, null, hook ? (i, h) => hook(`block${i}_out`, h) : undefined);
    let pooled: Tensor;
    let tokens: Tensor | null;
    if (this.attnPool) {
      if (this.attnPoolContrastive) {
        x = this.lnPost.apply(x);
        tokens = this.attnPool.apply(x);
        pooled = this.attnPoolContrastive.apply(this.attnPoolType === 'parallel' ? x : tokens);
      } else {
        x = this.lnPost.apply(this.attnPool.apply(x));
        ({ pooled, tokens } = this.globalPool(x, wantTokens));
      }
    } else if (this.finalLnAfterPool) {
      ({ pooled, tokens } = this.globalPool(x, wantTokens));
      pooled = this.lnPost.apply(pooled);
    } else {
      x = this.lnPost.apply(x);
      hook?.('ln_post_out', x);
      ({ pooled, tokens } = this.globalPool(x, wantTokens));
    }
    pooled = tf.matMul(pooled.rank === 2 ? pooled : tf.reshape(pooled, [-1, pooled.shape[pooled.rank - 1]!]), this.proj);
    if (this.poolType === 'none' || this.attnPoolContrastive) {
      // Unpooled outputs keep their token axis: [B, T, E].
      const b = images.shape[0]!;
      pooled = tf.reshape(pooled, [b, -1, this.outputDim]);
      if (this.attnPoolContrastive) pooled = tf.squeeze(pooled, [1]);
    }
    return { pooled, tokens };
  }

  /** Image features [B, outputDim] (OpenCLIP's `visual(x)` without output_tokens). */
  forward(images: Tensor, hook?: ActivationHook): Tensor {
    return tf.tidy(() => this.run(images, hook, false).pooled);
  }
}
