import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import { readModelConfigFile } from '../../src/config/registry.js';
import { parseModelConfig } from '../../src/config/model-config.js';
import { sinCos2dPosEmbed } from '../../src/towers/vision-transformer.js';
import { createModel, resolveModelConfig } from '../../src/model/create.js';
import { CLIP } from '../../src/model/clip.js';
import { StateDictError } from '../../src/model/state-dict.js';
import { asTokens, fixtureImages, isResNet, isViT, modelCase, modelCaseNames, pickModelCase, readAll } from '../../test-support/reference-models.js';

/** OpenCLIP's ClipLoss on one rank: mean of the two cross-entropies of the scaled cosine logits. */
function clipLoss(model: CLIP, images: Tensor, tokens: Tensor): Tensor {
  const out = model.forward(images, tokens);
  let logits = tf.mul(out.logitScale, tf.matMul(out.imageFeatures!, out.textFeatures!, false, true));
  if (out.logitBias) logits = tf.add(logits, out.logitBias);
  const n = logits.shape[0]!;
  const labels = tf.oneHot(tf.range(0, n, 1, 'int32'), n);
  const ce = (l: Tensor) => tf.neg(tf.mean(tf.sum(tf.mul(labels, tf.logSoftmax(l)), -1)));
  return tf.div(tf.add(ce(logits), ce(tf.transpose(logits))), 2) as Tensor;
}

function loadFixtureModel(name: string): { model: CLIP; images: Tensor; tokens: Tensor } {
  const c = modelCase(name);
  const model = createModel(readModelConfigFile(c.config), { initWeights: false }) as CLIP;
  model.loadStateDict(readAll(c.weights));
  const images = fixtureImages(c);
  const tokens = asTokens(readAll(c.outputs).get('inputs.text_tokens')!);
  return { model, images, tokens };
}

// Every CLIP-family case of the manifest on wasm, and its ViT ones on cpu too: a ResNet's conv
// gradients take ~10 s on the pure-JS cpu backend.
const CLIP_CASES = modelCaseNames('clip_model');
if (CLIP_CASES.skip) test('gradients of a contrastive loss reach every parameter', { skip: CLIP_CASES.skip }, () => {});
const GRAD_CASES: [string, string][] = [
  ...CLIP_CASES.names.map((n): [string, string] => [n, 'wasm']),
  ...CLIP_CASES.names.filter((n) => isViT(modelCase(n))).map((n): [string, string] => [n, 'cpu']),
];
for (const [name, backend] of GRAD_CASES) {
  test(`gradients of a contrastive loss reach every parameter (${name}, train mode, ${backend})`, async () => {
    await initEngine({ backend });
    const { model, images, tokens } = loadFixtureModel(name);
    model.train();
    // A ResNet image tower (BatchNorm) counts its batches.
    const hasBatchNorm = model.buffers.has('visual.bn1.num_batches_tracked');
    const tracked0 = hasBatchNorm ? model.buffers.get('visual.bn1.num_batches_tracked')!.dataSync()[0] : 0;
    const before = tf.memory().numTensors;
    const n = Math.min(4, images.shape[0]!, tokens.shape[0]!);
    const imgs = tf.slice(images, [0], [n]);
    const toks = tf.slice(tokens, [0], [n]);
    const { value, grads } = tf.variableGrads(() => clipLoss(model, imgs, toks) as tf.Scalar, [...model.params.values()].filter((v) => v.trainable));
    assert.ok(Number.isFinite(value.dataSync()[0]));
    const nameOf = new Map([...model.params].map(([k, v]) => [v.name, k]));
    const seen = new Set<string>();
    for (const [varName, g] of Object.entries(grads)) {
      const key = nameOf.get(varName)!;
      seen.add(key);
      const d = g.dataSync();
      assert.ok(d.every(Number.isFinite), `${key}: non-finite gradient`);
      if (key === 'logit_bias') {
        // Softmax cross-entropy is invariant to a bias shared by every logit, so under the plain
        // CLIP loss its gradient is exactly zero; float32 leaves only rounding (rows of softmax
        // summing to 1 within a few ulps).
        assert.ok(Math.abs(d[0]) <= 1e-6, `logit_bias: gradient ${d[0]} should be zero under the CLIP loss`);
      } else assert.ok(d.some((x) => x !== 0), `${key}: gradient is all zeros`);
    }
    for (const k of model.params.keys()) if (!model.frozen.has(k)) assert.ok(seen.has(k), `${k}: no gradient`);
    if (hasBatchNorm) {
      // BatchNorm in train mode uses batch statistics and updates its running stats.
      assert.equal(model.buffers.get('visual.bn1.num_batches_tracked')!.dataSync()[0], tracked0 + 1);
    }
    tf.dispose([value, ...Object.values(grads), imgs, toks]);
    assert.equal(tf.memory().numTensors, before, 'training step leaked tensors');
    model.dispose();
    images.dispose();
    tokens.dispose();
  });
}

const RESNET = pickModelCase('a ModifiedResNet image tower', isResNet);
test('BatchNorm: eval uses running stats, train uses batch stats and updates running stats with momentum 0.1', { skip: RESNET.skip }, async () => {
  await initEngine({ backend: 'cpu' });
  const { model, images, tokens } = loadFixtureModel(RESNET.name);
  const x = tf.slice(images, [0], [Math.min(4, images.shape[0]!)]);
  const evalOut = model.encodeImage(x);
  const rm0 = model.buffers.get('visual.bn1.running_mean')!.dataSync().slice();
  const tracked0 = model.buffers.get('visual.bn1.num_batches_tracked')!.dataSync()[0];
  // independent batch mean of conv1's output channel means
  const conv = model.visual as unknown as { conv1: { apply(t: Tensor): Tensor } };
  const feats = tf.tidy(() => conv.conv1.apply(tf.transpose(x, [0, 2, 3, 1])));
  const c = feats.shape[3]!;
  const fd = feats.dataSync();
  const mean = new Float64Array(c);
  for (let i = 0; i < fd.length; i++) mean[i % c] += fd[i] / (fd.length / c);
  model.train();
  const trainOut = model.encodeImage(x);
  model.eval();
  const rm1 = model.buffers.get('visual.bn1.running_mean')!.dataSync();
  for (let i = 0; i < c; i++) assert.ok(Math.abs(rm1[i] - (0.9 * rm0[i] + 0.1 * mean[i])) < 1e-5, `running_mean[${i}]`);
  assert.equal(model.buffers.get('visual.bn1.num_batches_tracked')!.dataSync()[0], tracked0 + 1);
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(evalOut, trainOut))).dataSync()[0]);
  assert.ok(diff > 1e-3, 'train mode changes the output');
  tf.dispose([x, evalOut, trainOut, feats, images, tokens]);
  model.dispose();
});

// A ViT CLIP (text tower at the top level, e.g. ln_final.bias) with a projection visual.proj [W, E].
const VIT_CLIP = pickModelCase('a ViT image tower and the text tower at the top level (CLIP)', (c) => isViT(c) && c.modelClass === 'CLIP');
test('a state dict with a wrong shape names the tensor; strict loading names missing/unexpected keys', { skip: VIT_CLIP.skip }, async () => {
  await initEngine({ backend: 'cpu' });
  const c = modelCase(VIT_CLIP.name);
  const model = createModel(readModelConfigFile(c.config), { initWeights: false }) as CLIP;
  const sd = readAll(c.weights);
  const bad = new Map(sd);
  const [w, e] = sd.get('visual.proj')!.shape as [number, number];
  bad.set('visual.proj', { dtype: 'F32', shape: [w, e + 1], data: new Float32Array(w * (e + 1)) });
  assert.throws(() => model.loadStateDict(bad, { source: 'bad.safetensors' }),
    (err: Error) => err instanceof StateDictError && /bad\.safetensors: size mismatch/.test(err.message) && err.message.includes(`'visual.proj': checkpoint has shape [${w},${e + 1}], the model expects [${w},${e}]`));
  const missing = new Map(sd);
  missing.delete('ln_final.bias');
  missing.set('text.extra', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
  assert.throws(() => model.loadStateDict(missing), /missing key\(s\): 'ln_final\.bias'; unexpected key\(s\): 'text\.extra'/);
  const report = model.loadStateDict(missing, { strict: false });
  assert.deepEqual(report.missing, ['ln_final.bias']);
  assert.deepEqual(report.unexpected, ['text.extra']);
  // logit_scale stored as [1] (older checkpoints) loads into the scalar parameter
  const shaped = new Map(sd);
  shaped.set('logit_scale', { dtype: 'F32', shape: [1], data: new Float32Array([1.5]) });
  model.loadStateDict(shaped);
  assert.equal(model.logitScale.dataSync()[0], 1.5);
  // tensors already on the engine load too, and stateDict round-trips
  const copy = new Map([...model.stateDict()].map(([k, v]) => [k, v.clone() as Tensor]));
  const other = createModel(readModelConfigFile(c.config), { seed: 3 }) as CLIP;
  other.loadStateDict(copy);
  for (const [k, v] of other.stateDict()) assert.deepEqual(v.dataSync(), model.stateDict().get(k)!.dataSync(), k);
  tf.dispose([...copy.values()]);
  other.dispose();
  model.dispose();
});

/** A tiny ModifiedResNet CLIP (layers [1,1,1,1], width 8: attention pool of width 8·32 = 256). */
const TINY_RESNET = {
  embed_dim: 32,
  vision_cfg: { image_size: 64, layers: [1, 1, 1, 1], width: 8, head_width: 32, patch_size: null },
  text_cfg: { context_length: 16, vocab_size: 100, width: 8, heads: 2, layers: 2 },
};
/** A tiny ViT CLIP with two blocks per tower. */
const TINY_VIT = {
  embed_dim: 8,
  vision_cfg: { image_size: 16, layers: 2, width: 16, head_width: 8, patch_size: 8 },
  text_cfg: { context_length: 8, vocab_size: 100, width: 16, heads: 2, layers: 2 },
};

test('init follows OpenCLIP: seeded, the documented stds, constants and logit scale/bias', async () => {
  await initEngine({ backend: 'cpu' });
  const cfg = {
    embed_dim: 32, init_logit_bias: -10, init_logit_scale: Math.log(10),
    vision_cfg: { image_size: 32, layers: 2, width: 64, head_width: 32, patch_size: 8, ls_init_value: 0.1 },
    text_cfg: { context_length: 16, vocab_size: 1000, width: 64, heads: 2, layers: 2 },
  };
  const a = createModel(cfg, { seed: 7 }) as CLIP;
  const b = createModel(cfg, { seed: 7 }) as CLIP;
  const c = createModel(cfg, { seed: 8 }) as CLIP;
  const std = (k: string, m: CLIP = a) => {
    const d = Array.from(m.params.get(k)!.dataSync());
    const mu = d.reduce((s, x) => s + x, 0) / d.length;
    return Math.sqrt(d.reduce((s, x) => s + (x - mu) ** 2, 0) / d.length);
  };
  const near = (x: number, want: number, rel: number, what: string) => assert.ok(Math.abs(x - want) <= rel * want, `${what}: ${x} vs ${want}`);
  near(std('token_embedding.weight'), 0.02, 0.05, 'token_embedding std');
  near(std('positional_embedding'), 0.01, 0.1, 'text positional std');
  near(std('visual.positional_embedding'), 64 ** -0.5, 0.15, 'visual positional std');
  near(std('text_projection'), 64 ** -0.5, 0.1, 'text_projection std');
  near(std('transformer.resblocks.0.attn.in_proj_weight'), 64 ** -0.5, 0.1, 'text attn std');
  near(std('transformer.resblocks.0.mlp.c_fc.weight'), (2 * 64) ** -0.5, 0.1, 'text fc std');
  near(std('transformer.resblocks.0.attn.out_proj.weight'), 64 ** -0.5 * 4 ** -0.5, 0.1, 'text proj std');
  // PyTorch defaults in the vision tower: conv U(±1/√fan_in) has std 1/√(3·fan_in); MHA in_proj xavier
  near(std('visual.conv1.weight'), 1 / Math.sqrt(3 * 3 * 64), 0.1, 'conv1 std');
  near(std('visual.transformer.resblocks.0.attn.in_proj_weight'), Math.sqrt(6 / (64 + 192)) / Math.sqrt(3), 0.1, 'xavier std');
  assert.ok(a.params.get('visual.transformer.resblocks.0.attn.out_proj.bias')!.dataSync().every((x) => x === 0));
  assert.ok(a.params.get('visual.transformer.resblocks.0.ls_1.gamma')!.dataSync().every((x) => Math.abs(x - 0.1) < 1e-7));
  assert.ok(a.params.get('visual.ln_pre.weight')!.dataSync().every((x) => x === 1));
  assert.equal(a.logitScale.dataSync()[0], Math.fround(Math.log(10)));
  assert.equal(a.logitBias!.dataSync()[0], -10);
  assert.deepEqual(a.params.get('token_embedding.weight')!.dataSync(), b.params.get('token_embedding.weight')!.dataSync());
  assert.notDeepEqual(a.params.get('token_embedding.weight')!.dataSync(), c.params.get('token_embedding.weight')!.dataSync());
  const rn = createModel(TINY_RESNET, { seed: 1 }) as CLIP;
  assert.ok(rn.params.get('visual.layer1.0.bn3.weight')!.dataSync().every((x) => x === 0), 'bottleneck bn3.weight starts at zero');
  near(std('visual.attnpool.q_proj.weight', rn), 256 ** -0.5, 0.05, 'attnpool q std');
  near(Math.log(1 / 0.07), rn.logitScale.dataSync()[0], 1e-6, 'default logit_scale');
  for (const m of [a, b, c, rn]) m.dispose();
});

test('patch dropout: train mode only, forcePatchDropout, and a fixed 2-D sin-cos position embedding', async () => {
  await initEngine({ backend: 'cpu' });
  const cfg = {
    embed_dim: 16,
    vision_cfg: { image_size: 32, layers: 1, width: 32, head_width: 16, patch_size: 8, pos_embed_type: 'sin_cos_2d' },
    text_cfg: { context_length: 8, vocab_size: 100, width: 16, heads: 2, layers: 1 },
  };
  const resolved = resolveModelConfig(cfg, { forcePatchDropout: 0.5, forceQuickGelu: true, forceImageSize: 48 });
  assert.equal(resolved.config.vision_cfg.patch_dropout, 0.5);
  assert.equal(resolved.config.quick_gelu, true);
  assert.equal(resolved.config.vision_cfg.image_size, 48);
  const m = createModel(cfg, { forcePatchDropout: 0.5, seed: 2 }) as CLIP;
  const vit = m.visual as import('../../src/towers/vision-transformer.js').VisionTransformer;
  const pos = m.params.get('visual.positional_embedding')!;
  assert.equal(pos.trainable, false);
  assert.ok(m.frozen.has('visual.positional_embedding'));
  const want = sinCos2dPosEmbed(32, 4);
  // spot checks against the closed form: row 0 (class token) is zero; patch (r=1,c=2) dims 0 and 8
  assert.ok(want.slice(0, 32).every((x) => x === 0));
  const p = 1 + 1 * 4 + 2;
  assert.ok(Math.abs(want[p * 32 + 0] - Math.sin(2)) < 1e-7);
  assert.ok(Math.abs(want[p * 32 + 8] - Math.cos(2)) < 1e-7);
  assert.ok(Math.abs(want[p * 32 + 16 + 1] - Math.sin(1 / 10000 ** (1 / 8))) < 1e-7);
  assert.deepEqual(pos.dataSync(), want);
  const img = tf.randomNormal([2, 3, 32, 32], 0, 1, 'float32', 5);
  const evalTokens = tf.tidy(() => vit.embed(img).shape);
  assert.deepEqual(evalTokens, [2, 17, 32]);
  m.train();
  const trainTokens = tf.tidy(() => vit.embed(img).shape);
  assert.deepEqual(trainTokens, [2, 1 + 8, 32], 'keeps int(16·0.5) patches + class token');
  const f = m.encodeImage(img);
  assert.deepEqual(f.shape, [2, 16]);
  m.eval();
  tf.dispose([img, f]);
  m.dispose();
  assert.throws(() => createModel(cfg, { forcePatchDropout: 1 }), /forcePatchDropout must be in \[0, 1\)/);
});

test('custom-block options, attentional pool variants, pool types and text projection options build and run', async () => {
  await initEngine({ backend: 'cpu' });
  const base = {
    embed_dim: 16,
    vision_cfg: { image_size: 32, layers: 2, width: 32, head_width: 16, patch_size: 16 },
    text_cfg: { context_length: 8, vocab_size: 100, width: 16, heads: 2, layers: 1 },
  };
  const variants: [string, Record<string, unknown>, Record<string, unknown>, string[]][] = [
    ['scaled cosine + head scale + inner/attn/fc norms',
      { scaled_cosine_attn: true, scale_heads: true, scale_attn_inner: true, scale_attn: true, scale_fc: true },
      { qk_norm: true },
      ['visual.transformer.resblocks.0.attn.logit_scale', 'visual.transformer.resblocks.0.attn.head_scale',
        'visual.transformer.resblocks.0.attn.ln_inner.weight', 'visual.transformer.resblocks.0.ln_attn.weight',
        'visual.transformer.resblocks.0.mlp.ln.weight', 'transformer.resblocks.0.attn.ln_q.weight']],
    // OpenCLIP's (WIP) parallel/cascade pools only work when width == embed_dim
    ['parallel attentional pool', { width: 16, head_width: 8, attentional_pool: 'parallel', attn_pooler_queries: 3, attn_pooler_heads: 2 }, { pool_type: 'first' },
      ['visual.attn_pool.query', 'visual.attn_pool_contrastive.query']],
    ['cascade attentional pool', { width: 16, head_width: 8, attentional_pool: 'cascade', attn_pooler_queries: 3, attn_pooler_heads: 2 }, { pool_type: 'eos', eos_id: 5 },
      ['visual.attn_pool_contrastive.attn.in_proj_weight']],
    ['attentional pool with avg pooling', { attentional_pool: true, attn_pooler_queries: 3, attn_pooler_heads: 2, pool_type: 'avg' }, {},
      ['visual.attn_pool.attn.k_proj_weight']],
    ['avg pool, gelu tanh, no causal mask', { pool_type: 'avg', act_kwargs: { approximate: 'tanh' }, norm_kwargs: { eps: 1e-6 } },
      { no_causal_mask: true, pool_type: 'last', proj_bias: true }, ['text_projection.weight', 'text_projection.bias']],
  ];
  const tokens = tf.tensor2d([[49, 3, 7, 5, 0, 0, 0, 0], [49, 9, 5, 0, 0, 0, 0, 0]], [2, 8], 'int32');
  const img = tf.randomNormal([2, 3, 32, 32], 0, 1, 'float32', 9);
  for (const [what, v, t, keys] of variants) {
    const cfg = { ...base, vision_cfg: { ...base.vision_cfg, ...v }, text_cfg: { ...base.text_cfg, ...t } };
    const m = createModel(cfg, { seed: 4 }) as CLIP;
    for (const k of keys) assert.ok(m.params.has(k), `${what}: has ${k}`);
    const before = tf.memory().numTensors;
    const out = m.forward(img, tokens);
    assert.deepEqual(out.imageFeatures!.shape, [2, 16], what);
    assert.deepEqual(out.textFeatures!.shape, [2, 16], what);
    assert.ok(out.imageFeatures!.dataSync().every(Number.isFinite) && out.textFeatures!.dataSync().every(Number.isFinite), what);
    tf.dispose([out.imageFeatures!, out.textFeatures!, out.logitScale]);
    assert.equal(tf.memory().numTensors, before, `${what}: leak`);
    m.dispose();
  }
  // a text pool 'eos' row without eos falls back to position 0, as torch's argmax of all-false
  tf.dispose([tokens, img]);
});

test('createModel rejects timm/HF towers and embed_cls without custom_text; unknown names list near names', () => {
  const timm = {
    embed_dim: 8, vision_cfg: { timm_model_name: 'resnet50d' },
    text_cfg: { context_length: 8, vocab_size: 100, width: 8, heads: 2, layers: 1 },
  };
  assert.throws(() => createModel(timm), /unknown timm model 'resnet50d'; supported timm towers: .*convnext_base/);
  assert.throws(() => createModel('nllb-clip-base'), /needs a timm\/HF tower/);
  assert.throws(() => createModel('roberta-ViT-B-32'), /needs a timm\/HF tower/);
  assert.throws(() => createModel('ViT-B-61'), /unknown model 'ViT-B-61' \(did you mean .*'ViT-B-16'/);
  assert.throws(() => createModel('nope/missing.json'), /missing\.json: model-config file not found/);
  assert.throws(() => createModel('hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K'), /resolved by the factory/);
  const cls = { ...timm, vision_cfg: { image_size: 32, layers: 1, width: 16, head_width: 8, patch_size: 16 }, text_cfg: { ...timm.text_cfg, embed_cls: true } };
  assert.throws(() => createModel(cls), /embed_cls needs the text tower under text\.\*/);
  assert.equal(resolveModelConfig(cls, { forceCustomText: true }).modelClass, 'CustomTextCLIP');
  assert.equal(resolveModelConfig('coca_ViT-B-32').modelClass, 'CoCa');
  assert.equal(resolveModelConfig('RN50').modelClass, 'CLIP');
  assert.equal(parseModelConfig(resolveModelConfig('ViT-B-32', { forceContextLength: 32 }).config).text_cfg.context_length, 32);
});

test('lockImageTower / lockTextTower freeze as OpenCLIP (groups unlocked from the end)', async () => {
  await initEngine({ backend: 'cpu' });
  const m = createModel(TINY_VIT, { initWeights: false }) as CLIP;
  const trainable = () => [...m.params].filter(([, v]) => v.trainable).map(([k]) => k);
  m.lockImageTower(0);
  assert.ok(trainable().every((k) => !k.startsWith('visual.')));
  m.lockImageTower(2); // [last block + ln_post], [proj]
  const vis = trainable().filter((k) => k.startsWith('visual.'));
  assert.ok(vis.includes('visual.proj') && vis.includes('visual.ln_post.weight') && vis.includes('visual.transformer.resblocks.1.mlp.c_fc.weight'));
  assert.ok(!vis.includes('visual.transformer.resblocks.0.ln_1.weight') && !vis.includes('visual.conv1.weight'));
  assert.ok(m.frozen.has('visual.conv1.weight') && !m.frozen.has('visual.proj'));
  m.lockTextTower(1); // only text_projection stays trainable
  const txt = trainable().filter((k) => !k.startsWith('visual.'));
  assert.deepEqual(txt.sort(), ['logit_scale', 'text_projection']);
  m.lockTextTower(2);
  assert.ok(trainable().includes('ln_final.weight') && trainable().includes('transformer.resblocks.1.attn.in_proj_weight'));
  assert.ok(!trainable().includes('token_embedding.weight'));
  m.dispose();
  const rn = createModel(TINY_RESNET, { initWeights: false }) as CLIP;
  assert.throws(() => rn.lockImageTower(1), /not supported for ModifiedResNet/);
  rn.lockImageTower(0, true);
  assert.ok([...rn.params].filter(([k]) => k.startsWith('visual.')).every(([, v]) => !v.trainable));
  rn.dispose();
});

test('text pooling: first / last / argmax (first maximal id) / eos (first eos_id, else 0) pick rows of the unpooled output', async () => {
  await initEngine({ backend: 'wasm' });
  const base = {
    embed_dim: 8, custom_text: true,
    vision_cfg: { image_size: 16, layers: 1, width: 16, head_width: 8, patch_size: 16 },
    text_cfg: { context_length: 6, vocab_size: 50, width: 8, heads: 2, layers: 1 },
  };
  const rows = [[49 % 50, 7, 30, 30, 0, 0], [3, 5, 7, 9, 11, 13], [40, 2, 8, 2, 2, 0]];
  const tokens = tf.tensor2d(rows, [3, 6], 'int32');
  const make = (pool_type: string, extra: Record<string, unknown> = {}) =>
    createModel({ ...base, text_cfg: { ...base.text_cfg, pool_type, ...extra } }, { seed: 11 }) as CLIP;
  const none = make('none');
  const all = none.encodeText(tokens); // [3, 6, 8]
  const allRows = all.arraySync() as number[][][];
  const expected: Record<string, number[]> = {
    first: [0, 0, 0],
    last: [5, 5, 5],
    argmax: [0, 5, 0], // row 0: 49 at 0 beats the 30s; row 2: 40 at 0
  };
  for (const pool of ['first', 'last', 'argmax']) {
    const m = make(pool);
    const f = m.encodeText(tokens).arraySync() as number[][];
    expected[pool].forEach((idx, b) => f[b].forEach((x, j) => assert.ok(Math.abs(x - allRows[b][idx][j]) < 1e-5, `${pool} row ${b}`)));
    m.dispose();
  }
  for (const [eosId, want] of [[30, [2, 0, 0]], [2, [0, 0, 1]]] as [number, number[]][]) {
    const m = make('eos', { eos_id: eosId });
    const f = m.encodeText(tokens).arraySync() as number[][];
    want.forEach((idx, b) => f[b].forEach((x, j) => assert.ok(Math.abs(x - allRows[b][idx][j]) < 1e-5, `eos ${eosId} row ${b}`)));
    m.dispose();
  }
  tf.dispose([all, tokens]);
  none.dispose();
});
