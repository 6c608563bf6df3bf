/**
 * OpenCLIP's `ModifiedResNet` (modified_resnet.py): a 3-conv stem with avgpool, Bottleneck blocks
 * whose stride is an AvgPool2d after conv2 (anti-aliasing; the downsample branch is AvgPool → 1×1
 * conv → BN), BatchNorm with running stats (eval) or batch stats (train), and AttentionPool2d.
 * Convolutions run NHWC internally with weights kept in PyTorch's [out, in, kh, kw] layout.
 */
import { tf, ops } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import type { VisionConfig } from '../config/model-config.js';
import { normal, ones, torchDefaultBias, torchDefaultWeight, zeros } from '../init/initializers.js';
import { Linear, mergeHeads, splitHeads } from './layers.js';
import { join } from './params.js';
import type { ParamStore } from './params.js';
import { toPair } from './vision-transformer.js';

const BN_EPS = 1e-5;
const BN_MOMENTUM = 0.1;

/** nn.BatchNorm2d over NHWC activations. */
export class BatchNorm2d {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;
  readonly numBatchesTracked: tf.Variable;
  constructor(store: ParamStore, prefix: string, readonly channels: number, zeroGamma = false) {
    this.weight = store.param(join(prefix, 'weight'), [channels], zeroGamma ? zeros : ones);
    this.bias = store.param(join(prefix, 'bias'), [channels], zeros);
    this.runningMean = store.buffer(join(prefix, 'running_mean'), [channels], 0);
    this.runningVar = store.buffer(join(prefix, 'running_var'), [channels], 1);
    this.numBatchesTracked = store.buffer(join(prefix, 'num_batches_tracked'), [], 0, 'int32');
  }

  /** Eval: running statistics. Train: batch statistics (biased), running stats updated with momentum 0.1 and the unbiased variance. */
  apply(x: Tensor, training: boolean, frozen = false): Tensor {
    if (!training || frozen) {
      return tf.tidy(() => {
        // (x - mean)·scale + bias folded into x·scale + shift: two passes over the activations instead of three.
        const scale = tf.mul(this.weight, tf.rsqrt(tf.add(this.runningVar, BN_EPS)));
        const shift = tf.sub(this.bias, tf.mul(this.runningMean, scale));
        return tf.add(tf.mul(x, scale), shift);
      });
    }
    const n = x.size / this.channels;
    return tf.tidy(() => {
      const { y, mean, variance } = ops.batchNormTrain(x, this.weight, this.bias, BN_EPS);
      this.runningMean.assign(tf.add(tf.mul(this.runningMean, 1 - BN_MOMENTUM), tf.mul(mean, BN_MOMENTUM)));
      this.runningVar.assign(tf.add(tf.mul(this.runningVar, 1 - BN_MOMENTUM), tf.mul(variance, (BN_MOMENTUM * n) / Math.max(n - 1, 1))));
      this.numBatchesTracked.assign(tf.add(this.numBatchesTracked, tf.scalar(1, 'int32')));
      return y;
    });
  }
}

/** nn.Conv2d without bias, weight [out, in, kh, kw], on NHWC input with symmetric zero padding. */
export class Conv2d {
  readonly weight: tf.Variable;
  constructor(store: ParamStore, prefix: string, readonly inC: number, readonly outC: number, readonly k: number, readonly stride = 1, readonly padding = 0) {
    this.weight = store.param(join(prefix, 'weight'), [outC, inC, k, k], torchDefaultWeight(inC * k * k));
  }
  apply(x: Tensor): Tensor {
    return tf.tidy(() => {
      const filter = tf.transpose(this.weight, [2, 3, 1, 0]) as tf.Tensor4D; // [kh, kw, in, out]
      const p = this.padding;
      const pad: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [p, p], [p, p], [0, 0]];
      return tf.conv2d(x as tf.Tensor4D, filter, this.stride, p === 0 ? 'valid' : pad);
    });
  }
}

function avgPool(x: Tensor, k: number): Tensor {
  return k > 1 ? tf.avgPool(x as tf.Tensor4D, k, k, 'valid') : x;
}

/** torchvision-style Bottleneck with OpenCLIP's anti-aliased stride. */
export class Bottleneck {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly downsample: { conv: Conv2d; bn: BatchNorm2d } | null = null;

  constructor(store: ParamStore, prefix: string, inplanes: number, planes: number, readonly stride = 1) {
    this.conv1 = new Conv2d(store, join(prefix, 'conv1'), inplanes, planes, 1);
    this.bn1 = new BatchNorm2d(store, join(prefix, 'bn1'), planes);
    this.conv2 = new Conv2d(store, join(prefix, 'conv2'), planes, planes, 3, 1, 1);
    this.bn2 = new BatchNorm2d(store, join(prefix, 'bn2'), planes);
    this.conv3 = new Conv2d(store, join(prefix, 'conv3'), planes, planes * Bottleneck.expansion, 1);
    // ModifiedResNet.init_parameters zeroes every bottleneck's bn3.weight.
    this.bn3 = new BatchNorm2d(store, join(prefix, 'bn3'), planes * Bottleneck.expansion, true);
    if (stride > 1 || inplanes !== planes * Bottleneck.expansion) {
      this.downsample = {
        conv: new Conv2d(store, join(prefix, 'downsample.0'), inplanes, planes * Bottleneck.expansion, 1),
        bn: new BatchNorm2d(store, join(prefix, 'downsample.1'), planes * Bottleneck.expansion),
      };
    }
  }

  apply(x: Tensor, training: boolean, frozenBn: boolean): Tensor {
    return tf.tidy(() => {
      let out = tf.relu(this.bn1.apply(this.conv1.apply(x), training, frozenBn));
      out = tf.relu(this.bn2.apply(this.conv2.apply(out), training, frozenBn));
      out = avgPool(out, this.stride);
      out = this.bn3.apply(this.conv3.apply(out), training, frozenBn);
      const identity = this.downsample
        ? this.downsample.bn.apply(this.downsample.conv.apply(avgPool(x, this.stride)), training, frozenBn)
        : x;
      return tf.relu(tf.add(out, identity));
    });
  }
}

/** CLIP's AttentionPool2d: mean token + spatial tokens, + position embedding, MHA with q/k/v Linear, token 0 out through c_proj. */
export class AttentionPool2d {
  readonly positionalEmbedding: tf.Variable;
  readonly kProj: Linear;
  readonly qProj: Linear;
  readonly vProj: Linear;
  readonly cProj: Linear;
  constructor(store: ParamStore, prefix: string, spatial: number, readonly embedDim: number, readonly heads: number, outputDim: number) {
    if (embedDim % heads !== 0) throw new Error(`${prefix}: embed dim ${embedDim} is not divisible by ${heads} heads`);
    this.positionalEmbedding = store.param(join(prefix, 'positional_embedding'), [spatial * spatial + 1, embedDim], normal(embedDim ** -0.5));
    // ModifiedResNet.init_parameters: q/k/v/c_proj weights ~ N(0, c_proj.in_features^-½); biases keep nn.Linear's default.
    const std = embedDim ** -0.5;
    const init = { weight: normal(std), bias: torchDefaultBias(embedDim) };
    this.kProj = new Linear(store, join(prefix, 'k_proj'), embedDim, embedDim, true, init);
    this.qProj = new Linear(store, join(prefix, 'q_proj'), embedDim, embedDim, true, init);
    this.vProj = new Linear(store, join(prefix, 'v_proj'), embedDim, embedDim, true, init);
    this.cProj = new Linear(store, join(prefix, 'c_proj'), embedDim, outputDim, true, init);
  }

  /** NHWC [B, h, w, C] → [B, outputDim] (only the query of token 0 is needed). */
  apply(x: Tensor): Tensor {
    return tf.tidy(() => {
      const [b, h, w, c] = x.shape as [number, number, number, number];
      if (h * w + 1 !== this.positionalEmbedding.shape[0]) {
        throw new Error(`AttentionPool2d: feature map ${h}x${w} does not match the positional embedding (${this.positionalEmbedding.shape[0] - 1} positions); check vision_cfg.image_size`);
      }
      const flat = tf.reshape(x, [b, h * w, c]);
      const tokens = tf.add(tf.concat([tf.mean(flat, 1, true), flat], 1), this.positionalEmbedding);
      const q0 = tf.slice(tokens, [0, 0, 0], [-1, 1, -1]);
      const q = splitHeads(this.qProj.apply(q0), this.heads);
      const k = splitHeads(this.kProj.apply(tokens), this.heads);
      const v = splitHeads(this.vProj.apply(tokens), this.heads);
      const o = mergeHeads(ops.attention(q, k, v));
      return tf.squeeze(this.cProj.apply(o), [1]);
    });
  }
}

export interface ResNetTowerOptions {
  outputDim: number;
}

export class ModifiedResNet {
  readonly kind = 'resnet' as const;
  readonly imageSize: [number, number];
  readonly width: number;
  readonly heads: number;
  readonly outputDim: number;
  training = false;
  /** lock_image_tower(freeze_bn_stats=True): BatchNorm always uses running stats. */
  freezeBnStats = false;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly layers: Bottleneck[][] = [];
  readonly attnpool: AttentionPool2d;

  constructor(store: ParamStore, readonly prefix: string, cfg: VisionConfig, o: ResNetTowerOptions) {
    if (!Array.isArray(cfg.layers)) throw new Error(`${prefix}: ModifiedResNet needs vision_cfg.layers as a list of 4 block counts`);
    this.imageSize = toPair(cfg.image_size);
    if (this.imageSize[0] !== this.imageSize[1]) throw new Error(`${prefix}: ModifiedResNet needs a square image_size, got ${this.imageSize}`);
    const width = (this.width = cfg.width);
    if ((width * 32) % cfg.head_width !== 0) throw new Error(`${prefix}: width·32 (${width * 32}) is not a multiple of head_width ${cfg.head_width}`);
    this.heads = (width * 32) / cfg.head_width;
    this.outputDim = o.outputDim;
    this.conv1 = new Conv2d(store, join(prefix, 'conv1'), 3, width / 2, 3, 2, 1);
    this.bn1 = new BatchNorm2d(store, join(prefix, 'bn1'), width / 2);
    this.conv2 = new Conv2d(store, join(prefix, 'conv2'), width / 2, width / 2, 3, 1, 1);
    this.bn2 = new BatchNorm2d(store, join(prefix, 'bn2'), width / 2);
    this.conv3 = new Conv2d(store, join(prefix, 'conv3'), width / 2, width, 3, 1, 1);
    this.bn3 = new BatchNorm2d(store, join(prefix, 'bn3'), width);
    let inplanes = width;
    cfg.layers.forEach((blocks, li) => {
      const planes = width * 2 ** li;
      const layer: Bottleneck[] = [];
      for (let bi = 0; bi < blocks; bi++) {
        layer.push(new Bottleneck(store, join(prefix, `layer${li + 1}.${bi}`), inplanes, planes, bi === 0 && li > 0 ? 2 : 1));
        inplanes = planes * Bottleneck.expansion;
      }
      this.layers.push(layer);
    });
    this.attnpool = new AttentionPool2d(store, join(prefix, 'attnpool'), Math.floor(this.imageSize[0] / 32), width * 32, this.heads, o.outputDim);
  }

  forward(images: Tensor): Tensor {
    if (images.rank !== 4 || images.shape[1] !== 3) throw new Error(`${this.prefix}: expected NCHW images [B, 3, H, W], got [${images.shape}]`);
    if (images.shape[2] !== this.imageSize[0] || images.shape[3] !== this.imageSize[1]) {
      throw new Error(`${this.prefix}: images are ${images.shape[2]}x${images.shape[3]} but the model was built for ${this.imageSize[0]}x${this.imageSize[1]} (vision_cfg.image_size)`);
    }
    return tf.tidy(() => {
      const t = this.training;
      const f = this.freezeBnStats;
      let x = tf.transpose(images, [0, 2, 3, 1]);
      x = tf.relu(this.bn1.apply(this.conv1.apply(x), t, f));
      x = tf.relu(this.bn2.apply(this.conv2.apply(x), t, f));
      x = tf.relu(this.bn3.apply(this.conv3.apply(x), t, f));
      x = avgPool(x, 2);
      for (const layer of this.layers) for (const blk of layer) x = blk.apply(x, t, f);
      return this.attnpool.apply(x);
    });
  }

  forwardWithTokens(_images: Tensor): { pooled: Tensor; tokens: Tensor } {
    throw new Error(`${this.prefix}: ModifiedResNet has no output_tokens (as in OpenCLIP)`);
  }
}
