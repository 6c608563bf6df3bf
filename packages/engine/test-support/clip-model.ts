/**
 * A CLIP-shaped model written from `tf` + `ops` for the engine's tests (not the project's
 * model code, which sits above the engine in @openclip/models): OpenCLIP's ViT (patch embedding as a matmul, class token, ln_pre,
 * pre-LN residual attention blocks, ln_post, projection), its causal text transformer (token
 * embedding gather, EOT pooling at the argmax token), an optional ModifiedResNet-style tower
 * (conv stem + batch norm + average pool + attention pooling), the symmetric contrastive loss,
 * and the 2-block transformer step of the engine issue.
 */
import { tf } from '../src/tf.js';
import * as ops from '../src/ops.js';
import { Rng } from '../src/rng.js';
import { adamwStep } from '../src/adamw.js';

export interface TowerConfig {
  width: number;
  layers: number;
  heads: number;
  mlpRatio: number;
}

export interface ClipConfig {
  embedDim: number;
  vision?: TowerConfig & { imageSize: number; patchSize: number };
  /** ModifiedResNet-style image tower instead of the ViT (conv stem, batch norm, attention pool). */
  resnet?: { imageSize: number; width: number; heads: number };
  text: TowerConfig & { contextLength: number; vocabSize: number };
}

export type ParamSpec = { name: string; shape: number[]; init: 'normal' | 'zeros' | 'ones' | 'logit_scale'; std?: number };

function blockSpecs(prefix: string, t: TowerConfig): ParamSpec[] {
  const d = t.width, h = Math.round(t.width * t.mlpRatio);
  const out: ParamSpec[] = [];
  for (let l = 0; l < t.layers; l++) {
    const p = `${prefix}.resblocks.${l}`;
    out.push(
      { name: `${p}.ln_1.weight`, shape: [d], init: 'ones' },
      { name: `${p}.ln_1.bias`, shape: [d], init: 'zeros' },
      { name: `${p}.attn.in_proj_weight`, shape: [3 * d, d], init: 'normal', std: d ** -0.5 },
      { name: `${p}.attn.in_proj_bias`, shape: [3 * d], init: 'zeros' },
      { name: `${p}.attn.out_proj.weight`, shape: [d, d], init: 'normal', std: d ** -0.5 },
      { name: `${p}.attn.out_proj.bias`, shape: [d], init: 'zeros' },
      { name: `${p}.ln_2.weight`, shape: [d], init: 'ones' },
      { name: `${p}.ln_2.bias`, shape: [d], init: 'zeros' },
      { name: `${p}.mlp.c_fc.weight`, shape: [h, d], init: 'normal', std: d ** -0.5 },
      { name: `${p}.mlp.c_fc.bias`, shape: [h], init: 'zeros' },
      { name: `${p}.mlp.c_proj.weight`, shape: [d, h], init: 'normal', std: h ** -0.5 },
      { name: `${p}.mlp.c_proj.bias`, shape: [d], init: 'zeros' },
    );
  }
  return out;
}

/** Parameter names and shapes (OpenCLIP's state-dict names where they exist). */
export function clipParamSpecs(cfg: ClipConfig): ParamSpec[] {
  const specs: ParamSpec[] = [];
  if (cfg.vision) {
    const v = cfg.vision, g = v.imageSize / v.patchSize;
    specs.push(
      { name: 'visual.conv1.weight', shape: [v.width, 3 * v.patchSize * v.patchSize], init: 'normal', std: (3 * v.patchSize ** 2) ** -0.5 },
      { name: 'visual.class_embedding', shape: [v.width], init: 'normal', std: v.width ** -0.5 },
      { name: 'visual.positional_embedding', shape: [g * g + 1, v.width], init: 'normal', std: v.width ** -0.5 },
      { name: 'visual.ln_pre.weight', shape: [v.width], init: 'ones' },
      { name: 'visual.ln_pre.bias', shape: [v.width], init: 'zeros' },
      ...blockSpecs('visual.transformer', v),
      { name: 'visual.ln_post.weight', shape: [v.width], init: 'ones' },
      { name: 'visual.ln_post.bias', shape: [v.width], init: 'zeros' },
      { name: 'visual.proj', shape: [v.width, cfg.embedDim], init: 'normal', std: v.width ** -0.5 },
    );
  }
  if (cfg.resnet) {
    const r = cfg.resnet, hw = (r.imageSize / 4) ** 2;
    specs.push(
      { name: 'visual.conv1.weight', shape: [3, 3, 3, r.width], init: 'normal', std: 27 ** -0.5 },
      { name: 'visual.bn1.weight', shape: [r.width], init: 'ones' },
      { name: 'visual.bn1.bias', shape: [r.width], init: 'zeros' },
      { name: 'visual.attnpool.positional_embedding', shape: [hw + 1, r.width], init: 'normal', std: r.width ** -0.5 },
      { name: 'visual.attnpool.qkv.weight', shape: [3 * r.width, r.width], init: 'normal', std: r.width ** -0.5 },
      { name: 'visual.attnpool.qkv.bias', shape: [3 * r.width], init: 'zeros' },
      { name: 'visual.attnpool.c_proj.weight', shape: [cfg.embedDim, r.width], init: 'normal', std: r.width ** -0.5 },
      { name: 'visual.attnpool.c_proj.bias', shape: [cfg.embedDim], init: 'zeros' },
    );
  }
  const t = cfg.text;
  specs.push(
    { name: 'token_embedding.weight', shape: [t.vocabSize, t.width], init: 'normal', std: 0.02 },
    { name: 'positional_embedding', shape: [t.contextLength, t.width], init: 'normal', std: 0.01 },
    ...blockSpecs('transformer', t),
    { name: 'ln_final.weight', shape: [t.width], init: 'ones' },
    { name: 'ln_final.bias', shape: [t.width], init: 'zeros' },
    { name: 'text_projection', shape: [t.width, cfg.embedDim], init: 'normal', std: t.width ** -0.5 },
    { name: 'logit_scale', shape: [], init: 'logit_scale' },
  );
  return specs;
}

/** Deterministic initial values for the specs (same numbers on every backend and in PyTorch). */
export function initValues(specs: ParamSpec[], seed: number): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const out = new Map<string, Float32Array>();
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    if (s.init === 'normal') {
      rng.fillNormal(v);
      for (let i = 0; i < n; i++) v[i] *= s.std ?? 0.02;
    } else if (s.init === 'ones') v.fill(1);
    else if (s.init === 'logit_scale') v.fill(Math.log(1 / 0.07));
    out.set(s.name, v);
  }
  return out;
}

export type Params = Map<string, tf.Variable>;

export function makeVariables(specs: ParamSpec[], values: Map<string, Float32Array>): Params {
  const p: Params = new Map();
  tf.tidy(() => {
    for (const s of specs) p.set(s.name, tf.variable(tf.tensor(values.get(s.name)!, s.shape, 'float32'), true, `${s.name}#${Math.random()}`));
  });
  return p;
}

function P(params: Params, name: string): tf.Tensor {
  const t = params.get(name);
  if (!t) throw new Error(`missing parameter '${name}'`);
  return t;
}

/** Multi-head self-attention with nn.MultiheadAttention's packed in_proj. x: [B, T, D]. */
function selfAttention(params: Params, p: string, x: tf.Tensor, heads: number, mask: tf.Tensor | null): tf.Tensor {
  const [B, T, D] = x.shape as [number, number, number];
  const hd = D / heads;
  const qkv = ops.linear(x, P(params, `${p}.in_proj_weight`), P(params, `${p}.in_proj_bias`));
  const split = tf.transpose(tf.reshape(qkv, [B, T, 3, heads, hd]), [2, 0, 3, 1, 4]); // [3, B, H, T, hd]
  const [q, k, v] = tf.unstack(split);
  const o = ops.attention(q, k, v, { mask });
  const merged = tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [B, T, D]);
  return ops.linear(merged, P(params, `${p}.out_proj.weight`), P(params, `${p}.out_proj.bias`));
}

export function residualBlock(params: Params, p: string, x: tf.Tensor, heads: number, mask: tf.Tensor | null): tf.Tensor {
  const h1 = tf.add(x, selfAttention(params, `${p}.attn`, ops.layerNorm(x, P(params, `${p}.ln_1.weight`), P(params, `${p}.ln_1.bias`)), heads, mask));
  const m = ops.layerNorm(h1, P(params, `${p}.ln_2.weight`), P(params, `${p}.ln_2.bias`));
  const f = ops.gelu(ops.linear(m, P(params, `${p}.mlp.c_fc.weight`), P(params, `${p}.mlp.c_fc.bias`)));
  return tf.add(h1, ops.linear(f, P(params, `${p}.mlp.c_proj.weight`), P(params, `${p}.mlp.c_proj.bias`)));
}

/** Images NCHW [B, 3, S, S] -> [B, embed]. */
export function encodeImageVit(params: Params, cfg: NonNullable<ClipConfig['vision']>, images: tf.Tensor): tf.Tensor {
  const B = images.shape[0]!, p = cfg.patchSize, g = cfg.imageSize / p, W = cfg.width;
  const patches = tf.reshape(tf.transpose(tf.reshape(images, [B, 3, g, p, g, p]), [0, 2, 4, 1, 3, 5]), [B, g * g, 3 * p * p]);
  const emb = ops.linear(patches, P(params, 'visual.conv1.weight'));
  const cls = tf.tile(tf.reshape(P(params, 'visual.class_embedding'), [1, 1, W]), [B, 1, 1]);
  let x = tf.add(tf.concat([cls, emb], 1), P(params, 'visual.positional_embedding'));
  x = ops.layerNorm(x, P(params, 'visual.ln_pre.weight'), P(params, 'visual.ln_pre.bias'));
  for (let l = 0; l < cfg.layers; l++) x = residualBlock(params, `visual.transformer.resblocks.${l}`, x, cfg.heads, null);
  const pooled = tf.reshape(tf.slice(x, [0, 0, 0], [B, 1, W]), [B, W]);
  return tf.matMul(ops.layerNorm(pooled, P(params, 'visual.ln_post.weight'), P(params, 'visual.ln_post.bias')), P(params, 'visual.proj'));
}

/** Images NCHW -> conv stem, batch norm (batch statistics), ReLU, 2x2 average pool, attention pool. */
export function encodeImageResnet(params: Params, cfg: NonNullable<ClipConfig['resnet']>, images: tf.Tensor): tf.Tensor {
  const B = images.shape[0]!, C = cfg.width;
  const nhwc = tf.transpose(images, [0, 2, 3, 1]) as tf.Tensor4D;
  const conv = tf.conv2d(nhwc, P(params, 'visual.conv1.weight') as tf.Tensor4D, 2, 'same');
  const { mean, variance } = tf.moments(conv, [0, 1, 2]);
  const bn = tf.batchNorm(conv, mean, variance, P(params, 'visual.bn1.bias'), P(params, 'visual.bn1.weight'), 1e-5);
  const pooled = tf.avgPool(tf.relu(bn) as tf.Tensor4D, 2, 2, 'valid');
  const hw = pooled.shape[1]! * pooled.shape[2]!;
  const tokens = tf.reshape(pooled, [B, hw, C]);
  const x = tf.add(tf.concat([tf.mean(tokens, 1, true), tokens], 1), P(params, 'visual.attnpool.positional_embedding'));
  const hd = C / cfg.heads;
  const qkv = ops.linear(x, P(params, 'visual.attnpool.qkv.weight'), P(params, 'visual.attnpool.qkv.bias'));
  const split = tf.transpose(tf.reshape(qkv, [B, hw + 1, 3, cfg.heads, hd]), [2, 0, 3, 1, 4]);
  const [q, k, v] = tf.unstack(split);
  const q0 = tf.slice(q, [0, 0, 0, 0], [B, cfg.heads, 1, hd]);
  const o = tf.reshape(ops.attention(q0, k, v), [B, C]);
  return ops.linear(o, P(params, 'visual.attnpool.c_proj.weight'), P(params, 'visual.attnpool.c_proj.bias'));
}

export function causalMask(T: number): tf.Tensor {
  const m = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = -Infinity;
  return tf.tensor2d(m, [T, T]);
}

/** Tokens [B, T] int32 -> [B, embed], pooled at the highest token id (the EOT token). */
export function encodeText(params: Params, cfg: ClipConfig['text'], tokens: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  const [B, T] = tokens.shape as [number, number];
  let x = tf.add(tf.gather(P(params, 'token_embedding.weight'), tokens), P(params, 'positional_embedding'));
  for (let l = 0; l < cfg.layers; l++) x = residualBlock(params, `transformer.resblocks.${l}`, x, cfg.heads, mask);
  x = ops.layerNorm(x, P(params, 'ln_final.weight'), P(params, 'ln_final.bias'));
  const eot = tf.add(tf.argMax(tokens, 1), tf.range(0, B * T, T, 'int32'));
  return tf.matMul(tf.gather(tf.reshape(x, [B * T, cfg.width]), eot), P(params, 'text_projection'));
}

/** OpenCLIP's ClipLoss on one process: mean of image->text and text->image cross-entropy. */
export function clipLoss(img: tf.Tensor, txt: tf.Tensor, logitScale: tf.Tensor): tf.Scalar {
  const n = img.shape[0]!;
  const i = tf.div(img, tf.norm(img, 'euclidean', 1, true));
  const t = tf.div(txt, tf.norm(txt, 'euclidean', 1, true));
  const logits = tf.mul(tf.exp(logitScale), tf.matMul(i, t, false, true));
  const eye = tf.eye(n);
  const ce = (l: tf.Tensor) => tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(l), eye), 1)));
  return tf.div(tf.add(ce(logits), ce(tf.transpose(logits))), 2) as tf.Scalar;
}

export function clipForwardLoss(params: Params, cfg: ClipConfig, images: tf.Tensor, tokens: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  const img = cfg.vision ? encodeImageVit(params, cfg.vision, images) : encodeImageResnet(params, cfg.resnet!, images);
  const txt = encodeText(params, cfg.text, tokens, mask);
  return clipLoss(img, txt, P(params, 'logit_scale'));
}

/** Synthetic batch: uniform images, tokens with a unique EOT id (vocab-1) at a random position. */
export function syntheticBatch(cfg: ClipConfig, batch: number, seed: number): { images: Float32Array; tokens: Int32Array } {
  const rng = new Rng(seed);
  const S = cfg.vision?.imageSize ?? cfg.resnet!.imageSize;
  const images = new Float32Array(batch * 3 * S * S);
  rng.fillNormal(images);
  const T = cfg.text.contextLength, V = cfg.text.vocabSize;
  const tokens = new Int32Array(batch * T);
  for (let b = 0; b < batch; b++) {
    const len = 2 + Math.floor(rng.random() * (T - 2));
    tokens[b * T] = V - 2;
    for (let j = 1; j < len - 1; j++) tokens[b * T + j] = 1 + Math.floor(rng.random() * (V - 3));
    tokens[b * T + len - 1] = V - 1;
  }
  return { images, tokens };
}

export interface AdamWHyper { lr: number; weightDecay: number; beta1?: number; beta2?: number; eps?: number }

/** An AdamW trainer over a parameter map (moments as zero variables; decay off for 1-D params and logit_scale, as OpenCLIP does). */
export class Trainer {
  readonly m = new Map<string, tf.Variable>();
  readonly v = new Map<string, tf.Variable>();
  step = 0;
  constructor(readonly params: Params, readonly hyper: AdamWHyper) {
    tf.tidy(() => {
      for (const [name, p] of params) {
        this.m.set(name, tf.variable(tf.zerosLike(p), false));
        this.v.set(name, tf.variable(tf.zerosLike(p), false));
      }
    });
  }
  /** One training step; returns the loss value. */
  train(lossFn: () => tf.Scalar): number {
    const vars = [...this.params.values()];
    const { value, grads } = tf.variableGrads(lossFn, vars);
    this.step++;
    for (const [name, p] of this.params) {
      const g = grads[p.name];
      const decay = p.rank < 2 || name === 'logit_scale' ? 0 : this.hyper.weightDecay;
      adamwStep(p, g, this.m.get(name)!, this.v.get(name)!, { ...this.hyper, weightDecay: decay, step: this.step });
    }
    const loss = value.dataSync()[0];
    tf.dispose(value);
    tf.dispose(grads);
    return loss;
  }
  dispose(): void {
    tf.dispose([...this.params.values(), ...this.m.values(), ...this.v.values()]);
  }
}

/** The 2-block transformer step: pre-LN blocks, B x T x D, erf-GELU, loss = mean(y^2). */
export interface BlocksConfig { batch: number; seq: number; width: number; heads: number; layers: number }

export function blocksParamSpecs(cfg: BlocksConfig): ParamSpec[] {
  return blockSpecs('blocks', { width: cfg.width, layers: cfg.layers, heads: cfg.heads, mlpRatio: 4 });
}

export function blocksForward(params: Params, cfg: BlocksConfig, x: tf.Tensor): tf.Tensor {
  let h = x;
  for (let l = 0; l < cfg.layers; l++) h = residualBlock(params, `blocks.resblocks.${l}`, h, cfg.heads, null);
  return h;
}
