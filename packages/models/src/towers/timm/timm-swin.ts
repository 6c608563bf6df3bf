/**
 * timm's `SwinTransformer` under its own parameter names (`patch_embed.{proj,norm}`,
 * `layers.<i>.downsample.{norm,reduction}`, `layers.<i>.blocks.<j>.{norm1,attn,norm2,mlp}` with
 * `attn.{relative_position_bias_table,qkv,proj}`, `norm`, `head.fc`): windowed self-attention with
 * a relative position bias per head, cyclic shifts on every second block with the -100 region
 * mask, windows clipped to small maps, patch merging, stochastic depth (train mode), average
 * pooling, and timm's layer grouping. Activations run NHWC.
 */
import { tf, ops } from '@openclip/engine';
import type { Rng, Tensor } from '@openclip/engine';
import { truncNormal } from '../../init/initializers.js';
import { LayerNorm, mergeHeads, splitQkvHeads } from '../layers.js';
import { join } from '../params.js';
import type { ParamStore } from '../params.js';
import type { ActivationHook } from '../vision-transformer.js';
import { TIMM_CONV_INIT, nhwcToNchw } from './timm-conv-layers.js';
import { TimmLinear, TimmMlp, dropPath, dropPathRates, timmActivation } from './timm-layers.js';
import type { GroupRule } from './timm-layers.js';
import { patchifyNchw } from './timm-vit.js';
import type { TimmTrunkOptions } from './timm-vit.js';

/** timm SwinTransformer keyword arguments this port reads (timm's names). */
export interface SwinArgs {
  img_size?: number;
  patch_size?: number;
  embed_dim: number;
  depths: number[];
  num_heads: number[];
  head_dim?: number | null;
  window_size?: number;
  mlp_ratio?: number;
  qkv_bias?: boolean;
  global_pool?: string;
  drop_path_rate?: number;
}

/** timm's default `drop_path_rate` of SwinTransformer (OpenCLIP passes its timm_drop_path only when set). */
export const SWIN_DEFAULT_DROP_PATH = 0.1;

/** (h1 - h2 + wh - 1)·(2ww - 1) + (w1 - w2 + ww - 1) for every token pair of a wh×ww window. */
export function relativePositionIndex(wh: number, ww: number): Int32Array {
  const n = wh * ww;
  const idx = new Int32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const dh = Math.floor(i / ww) - Math.floor(j / ww) + wh - 1;
      const dw = (i % ww) - (j % ww) + ww - 1;
      idx[i * n + j] = dh * (2 * ww - 1) + dw;
    }
  }
  return idx;
}

/**
 * The shifted-window mask [nW, N, N] of a (padded) hp×wp map: 0 between tokens of the same region
 * of the cyclically shifted image, -100 across regions.
 */
export function shiftedWindowMask(hp: number, wp: number, win: [number, number], shift: [number, number]): Float32Array {
  // timm paints three slices per axis, [0, -w), [-w, -s), [-s, None), later ones over earlier ones; with
  // s = 0 the last is the whole axis (Python's -0 is 0), so an axis without shift is one region
  const region = (v: number, size: number, w: number, s: number) => (s === 0 ? 2 : v < size - w ? 0 : v < size - s ? 1 : 2);
  const [wh, ww] = win;
  const nh = hp / wh, nw = wp / ww, n = wh * ww;
  const out = new Float32Array(nh * nw * n * n);
  const ids = new Int32Array(n);
  for (let a = 0; a < nh; a++) {
    for (let b = 0; b < nw; b++) {
      for (let t = 0; t < n; t++) {
        const y = a * wh + Math.floor(t / ww), x = b * ww + (t % ww);
        ids[t] = region(y, hp, wh, shift[0]) * 3 + region(x, wp, ww, shift[1]);
      }
      const base = (a * nw + b) * n * n;
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[base + i * n + j] = ids[i] === ids[j] ? 0 : -100;
    }
  }
  return out;
}

/** tf's equivalent of torch.roll along one axis (positive shifts move elements to higher indices). */
function roll(x: Tensor, shift: number, axis: number): Tensor {
  const n = x.shape[axis]!;
  const s = ((shift % n) + n) % n;
  if (s === 0) return x;
  const [a, b] = tf.split(x, [n - s, s], axis);
  return tf.concat([b, a], axis);
}

class WindowAttention {
  readonly table: tf.Variable;
  readonly qkv: TimmLinear;
  readonly proj: TimmLinear;
  readonly index: Int32Array;
  readonly n: number;
  /** The state-dict key of the bias table. */
  readonly tableKey: string;
  constructor(store: ParamStore, prefix: string, dim: number, readonly heads: number, readonly headDim: number, readonly win: [number, number], qkvBias: boolean) {
    const [wh, ww] = win;
    this.n = wh * ww;
    this.tableKey = join(prefix, 'relative_position_bias_table');
    this.table = store.param(this.tableKey, [(2 * wh - 1) * (2 * ww - 1), heads], truncNormal(0.02));
    this.qkv = new TimmLinear(store, join(prefix, 'qkv'), dim, 3 * heads * headDim, qkvBias);
    this.proj = new TimmLinear(store, join(prefix, 'proj'), heads * headDim, dim, true);
    this.index = relativePositionIndex(wh, ww);
  }

  /** The bias [1, H, N, N] gathered from the table. */
  bias(): Tensor {
    return tf.tidy(() => {
      const g = tf.gather(this.table, tf.tensor1d(this.index, 'int32')); // [N·N, H]
      return tf.reshape(tf.transpose(g), [1, this.heads, this.n, this.n]);
    });
  }

  /** Windows [B·nW, N, C] → [B·nW, N, C]; `mask` [nW, N, N] for shifted windows. */
  apply(x: Tensor, windowsPerImage: number, mask: Tensor | null): Tensor {
    return tf.tidy(() => {
      const [bw, n] = x.shape as [number, number, number];
      const [q, k, v] = splitQkvHeads(this.qkv.apply(x), this.heads); // [B·nW, H, N, d]
      const scale = this.headDim ** -0.5;
      let o: Tensor;
      if (!mask) {
        o = ops.attention(q, k, v, { mask: this.bias(), scale });
      } else {
        // windows of one image side by side as heads: [B, nW·H, N, d], the mask [1, nW·H, N, N]
        const b = bw / windowsPerImage;
        const full = tf.reshape(tf.add(this.bias(), tf.expandDims(mask, 1)), [1, windowsPerImage * this.heads, n, n]);
        const as = (t: Tensor) => tf.reshape(t, [b, windowsPerImage * this.heads, n, this.headDim]);
        o = tf.reshape(ops.attention(as(q), as(k), as(v), { mask: full, scale }), [bw, this.heads, n, this.headDim]);
      }
      return this.proj.apply(mergeHeads(o));
    });
  }
}

class SwinBlock {
  readonly norm1: LayerNorm;
  readonly attn: WindowAttention;
  readonly norm2: LayerNorm;
  readonly mlp: TimmMlp;
  readonly win: [number, number];
  readonly shift: [number, number];
  private maskValues: Float32Array | null = null;
  constructor(store: ParamStore, prefix: string, dim: number, readonly resolution: [number, number], heads: number, headDim: number,
    window: [number, number], shifted: boolean, mlpRatio: number, qkvBias: boolean, readonly dropRate: number) {
    // timm clips the window to a smaller map, and does not shift it then (per axis)
    this.win = [Math.min(window[0], resolution[0]), Math.min(window[1], resolution[1])];
    this.shift = [0, 1].map((a) => (shifted && resolution[a] > window[a] ? Math.floor(window[a] / 2) : 0)) as [number, number];
    this.norm1 = new LayerNorm(store, join(prefix, 'norm1'), dim, 1e-5);
    this.attn = new WindowAttention(store, join(prefix, 'attn'), dim, heads, headDim, this.win, qkvBias);
    this.norm2 = new LayerNorm(store, join(prefix, 'norm2'), dim, 1e-5);
    this.mlp = new TimmMlp(store, join(prefix, 'mlp'), dim, Math.floor(dim * mlpRatio), dim, timmActivation('gelu', prefix), { init: TIMM_CONV_INIT });
  }

  private windowAttention(x: Tensor): Tensor {
    return tf.tidy(() => {
      const [b, h, w, c] = x.shape as [number, number, number, number];
      const [wh, ww] = this.win;
      const shifted = this.shift[0] > 0 || this.shift[1] > 0;
      let y = shifted ? roll(roll(x, -this.shift[0], 1), -this.shift[1], 2) : x;
      const ph = (wh - (h % wh)) % wh, pw = (ww - (w % ww)) % ww;
      if (ph || pw) y = tf.pad(y, [[0, 0], [0, ph], [0, pw], [0, 0]]);
      const hp = h + ph, wp = w + pw, nh = hp / wh, nw = wp / ww;
      const windows = tf.reshape(tf.transpose(tf.reshape(y, [b, nh, wh, nw, ww, c]), [0, 1, 3, 2, 4, 5]), [b * nh * nw, wh * ww, c]);
      let mask: Tensor | null = null;
      if (shifted) {
        this.maskValues ??= shiftedWindowMask(hp, wp, this.win, this.shift);
        mask = tf.tensor3d(this.maskValues, [nh * nw, wh * ww, wh * ww]);
      }
      const o = this.attn.apply(windows, nh * nw, mask);
      let z = tf.reshape(tf.transpose(tf.reshape(o, [b, nh, nw, wh, ww, c]), [0, 1, 3, 2, 4, 5]), [b, hp, wp, c]);
      if (ph || pw) z = tf.slice(z, [0, 0, 0, 0], [b, h, w, c]);
      return shifted ? roll(roll(z, this.shift[0], 1), this.shift[1], 2) : z;
    });
  }

  apply(x: Tensor, training: boolean, rng: Rng): Tensor {
    return tf.tidy(() => {
      const drop = (t: Tensor): Tensor => (training ? dropPath(t, this.dropRate, rng) : t);
      const x1 = tf.add(x, drop(this.windowAttention(this.norm1.apply(x))));
      return tf.add(x1, drop(this.mlp.apply(this.norm2.apply(x1))));
    });
  }
}

/** timm `PatchMerging`: 2×2 neighbours (padded to even) concatenated as (w, h, C), LayerNorm, bias-free Linear. */
class PatchMerging {
  readonly norm: LayerNorm;
  readonly reduction: TimmLinear;
  constructor(store: ParamStore, prefix: string, dim: number, outDim: number) {
    this.norm = new LayerNorm(store, join(prefix, 'norm'), 4 * dim, 1e-5);
    this.reduction = new TimmLinear(store, join(prefix, 'reduction'), 4 * dim, outDim, false, TIMM_CONV_INIT);
  }
  apply(x: Tensor): Tensor {
    return tf.tidy(() => {
      const [b, h0, w0, c] = x.shape as [number, number, number, number];
      const h = h0 + (h0 % 2), w = w0 + (w0 % 2);
      const y = h !== h0 || w !== w0 ? tf.pad(x, [[0, 0], [0, h - h0], [0, w - w0], [0, 0]]) : x;
      const merged = tf.reshape(tf.transpose(tf.reshape(y, [b, h / 2, 2, w / 2, 2, c]), [0, 1, 3, 4, 2, 5]), [b, h / 2, w / 2, 4 * c]);
      return this.reduction.apply(this.norm.apply(merged));
    });
  }
}

export class TimmSwin {
  readonly family = 'swin' as const;
  readonly imageSize: [number, number];
  readonly numFeatures: number;
  readonly patch: number;
  readonly grid: [number, number];
  /** The window before timm clips it to smaller maps: window_size, or grid // 8 after set_input_size. */
  readonly window: [number, number];
  training = false;
  readonly rng: Rng;

  readonly patchWeight: tf.Variable;
  readonly patchBias: tf.Variable;
  readonly patchNorm: LayerNorm;
  readonly stages: { downsample: PatchMerging | null; blocks: SwinBlock[] }[] = [];
  readonly norm: LayerNorm;
  readonly fc: TimmLinear | null;

  constructor(store: ParamStore, readonly prefix: string, args: SwinArgs, o: TimmTrunkOptions) {
    const where = prefix;
    const img = args.img_size ?? 224;
    this.imageSize = o.imageSize;
    this.rng = o.rng;
    if (o.patchDropRate > 0) throw new Error(`${where}: patch dropout (vision_cfg.patch_dropout) is not supported for Swin`);
    const pool = o.globalPool ?? args.global_pool ?? 'avg';
    if (pool !== 'avg') throw new Error(`${where}: timm global_pool '${pool}' is not supported for Swin ('avg'; '' leaves NHWC maps that OpenCLIP cannot use as features)`);
    const { depths, num_heads: heads } = args;
    if (depths.length !== heads.length) throw new Error(`${where}: depths [${depths}] and num_heads [${heads}] differ in length`);
    this.patch = args.patch_size ?? 4;
    this.grid = [Math.floor(o.imageSize[0] / this.patch), Math.floor(o.imageSize[1] / this.patch)];
    // At timm's img_size the window is window_size; at another size (OpenCLIP calls timm's
    // set_input_size after loading, --force-image-size) it is the patch grid // 8, and the bias
    // tables are resampled to it when the weights load (factory's adaptStateDict).
    const resized = o.imageSize[0] !== img || o.imageSize[1] !== img;
    const window: [number, number] = resized ? [Math.floor(this.grid[0] / 8), Math.floor(this.grid[1] / 8)] : [args.window_size ?? 7, args.window_size ?? 7];
    if (window[0] < 1 || window[1] < 1) {
      throw new Error(`${where}: at ${o.imageSize.join('x')} the patch grid ${this.grid.join('x')} gives timm's set_input_size a window of ${window.join('x')} (grid // 8); use images of at least ${8 * this.patch} px`);
    }
    this.window = window;
    const dims = depths.map((_, i) => args.embed_dim * 2 ** i);
    const fan = 3 * this.patch * this.patch;
    this.patchWeight = store.param(join(prefix, 'patch_embed.proj.weight'), [dims[0], 3, this.patch, this.patch], { kind: 'uniform', bound: 1 / Math.sqrt(fan) });
    this.patchBias = store.param(join(prefix, 'patch_embed.proj.bias'), [dims[0]], { kind: 'uniform', bound: 1 / Math.sqrt(fan) });
    this.patchNorm = new LayerNorm(store, join(prefix, 'patch_embed.norm'), dims[0], 1e-5);
    const rates = dropPathRates(args.drop_path_rate ?? SWIN_DEFAULT_DROP_PATH, depths);
    let res: [number, number] = this.grid;
    for (let i = 0; i < depths.length; i++) {
      const sp = join(prefix, `layers.${i}`);
      let downsample: PatchMerging | null = null;
      if (i > 0) {
        downsample = new PatchMerging(store, join(sp, 'downsample'), dims[i - 1], dims[i]);
        res = [Math.floor(res[0] / 2), Math.floor(res[1] / 2)];
      }
      const headDim = args.head_dim ?? Math.floor(dims[i] / heads[i]);
      const blocks: SwinBlock[] = [];
      for (let j = 0; j < depths[i]; j++) {
        blocks.push(new SwinBlock(store, join(sp, `blocks.${j}`), dims[i], res, heads[i], headDim, window, j % 2 === 1,
          args.mlp_ratio ?? 4, args.qkv_bias ?? true, rates[i][j]));
      }
      this.stages.push({ downsample, blocks });
    }
    const last = dims[dims.length - 1];
    this.norm = new LayerNorm(store, join(prefix, 'norm'), last, 1e-5);
    this.fc = o.numClasses > 0 ? new TimmLinear(store, join(prefix, 'head.fc'), last, o.numClasses, true, TIMM_CONV_INIT) : null;
    this.numFeatures = o.numClasses > 0 ? o.numClasses : last;
  }

  /** Every block's bias-table key with the window it is built for (the checkpoint's tables are resampled to it). */
  relPosTables(): { key: string; window: [number, number] }[] {
    return this.stages.flatMap((st) => st.blocks.map((b) => ({ key: b.attn.tableKey, window: b.win })));
  }

  /** timm's Swin `group_matcher`: patch_embed; each stage's downsample with its first block, one group per block; norm with the last; head last. */
  groupRules(): GroupRule[] {
    return [
      { re: /patch_embed/, ordinal: 0, indexed: false },
      { re: /layers\.(\d+).downsample/, ordinal: 1, indexed: true, suffix: [0] },
      { re: /layers\.(\d+)\.\w+\.(\d+)/, ordinal: 1, indexed: true },
      { re: /norm/, ordinal: 1, indexed: false, merge: true },
    ];
  }

  forward(images: Tensor, hook?: ActivationHook): Tensor {
    return tf.tidy(() => {
      const b = images.shape[0]!;
      const d = this.patchWeight.shape[0]!;
      const rows = ops.linear(patchifyNchw(images, [this.patch, this.patch], this.grid), tf.reshape(this.patchWeight, [d, -1]), this.patchBias);
      let x = this.patchNorm.apply(tf.reshape(rows, [b, this.grid[0], this.grid[1], d]));
      if (hook) hook('stem_out', nhwcToNchw(x));
      this.stages.forEach((st, i) => {
        if (st.downsample) x = st.downsample.apply(x);
        for (const blk of st.blocks) x = blk.apply(x, this.training, this.rng);
        if (hook) hook(`stage${i}_out`, nhwcToNchw(x));
      });
      x = this.norm.apply(x);
      const pooled = tf.mean(x, [1, 2]);
      hook?.('pooled', pooled);
      return this.fc ? this.fc.apply(pooled) : pooled;
    });
  }

  dispose(): void {}
}
