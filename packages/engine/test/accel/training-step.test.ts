import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine } from '../../src/backend.js';
import { tf } from '../../src/tf.js';
import { loadNative } from '../../src/accel/native.js';
import { loadOrt } from '../../src/accel/ort.js';
import {
  type ClipConfig,
  Trainer,
  causalMask,
  clipForwardLoss,
  clipParamSpecs,
  initValues,
  makeVariables,
  syntheticBatch,
} from '../../test-support/clip-model.js';

// A CLIP-style training step (ViT + causal text transformer with token-embedding gather, or a
// conv/batch-norm/attention-pool tower; contrastive loss; AdamW) on every backend and tier,
// with gradients compared to the cpu backend's.
const text = { contextLength: 8, vocabSize: 40, width: 32, layers: 1, heads: 2, mlpRatio: 4 };
const CASES: Record<string, ClipConfig> = {
  vit: { embedDim: 16, vision: { imageSize: 16, patchSize: 8, width: 32, layers: 1, heads: 2, mlpRatio: 4 }, text },
  resnet: { embedDim: 16, resnet: { imageSize: 16, width: 16, heads: 2 }, text },
};
const BATCH = 4;

interface StepResult { loss0: number; loss1: number; grads: Map<string, Float32Array>; params: Map<string, Float32Array> }

async function runStep(backend: string, accel: string, cfg: ClipConfig): Promise<StepResult> {
  await initEngine({ backend, accel });
  const before = tf.memory().numTensors;
  const specs = clipParamSpecs(cfg);
  const params = makeVariables(specs, initValues(specs, 7));
  const batch = syntheticBatch(cfg, BATCH, 3);
  const S = cfg.vision?.imageSize ?? cfg.resnet!.imageSize;
  const images = tf.tensor(batch.images, [BATCH, 3, S, S]);
  const tokens = tf.tensor(batch.tokens, [BATCH, cfg.text.contextLength], 'int32');
  const mask = causalMask(cfg.text.contextLength);
  const lossFn = () => clipForwardLoss(params, cfg, images, tokens, mask);
  const { value, grads } = tf.variableGrads(lossFn, [...params.values()]);
  const out: StepResult = { loss0: value.dataSync()[0], loss1: 0, grads: new Map(), params: new Map() };
  for (const [name, p] of params) out.grads.set(name, grads[p.name].dataSync().slice() as Float32Array);
  tf.dispose(value);
  tf.dispose(grads);
  const trainer = new Trainer(params, { lr: 1e-3, weightDecay: 0.2 });
  trainer.train(lossFn);
  const after = tf.tidy(() => lossFn());
  out.loss1 = after.dataSync()[0];
  after.dispose();
  for (const [name, p] of params) out.params.set(name, p.dataSync().slice() as Float32Array);
  trainer.dispose();
  tf.dispose([images, tokens, mask]);
  assert.equal(tf.memory().numTensors, before, `${backend}/${accel}: tensors leaked by a training step`);
  return out;
}

function compare(got: StepResult, want: StepResult, what: string) {
  assert.ok(Math.abs(got.loss0 - want.loss0) <= 1e-4 * Math.abs(want.loss0), `${what}: loss ${got.loss0} vs cpu ${want.loss0}`);
  assert.ok(Math.abs(got.loss1 - want.loss1) <= 1e-4 * Math.abs(want.loss1), `${what}: loss after AdamW ${got.loss1} vs cpu ${want.loss1}`);
  assert.ok(got.loss1 < got.loss0, `${what}: the AdamW step did not lower the loss`);
  for (const [name, ref] of want.grads) {
    const g = got.grads.get(name)!;
    let scale = 0, diff = 0;
    for (let i = 0; i < ref.length; i++) {
      scale = Math.max(scale, Math.abs(ref[i]));
      diff = Math.max(diff, Math.abs(g[i] - ref[i]));
    }
    assert.ok(Number.isFinite(diff) && diff <= 2e-3 * scale + 1e-7, `${what}: gradient of ${name} differs from cpu by ${diff} (scale ${scale})`);
    const p = got.params.get(name)!, pr = want.params.get(name)!;
    // Adam's first step is lr·sign(g): only compare where the gradient is clearly above rounding noise
    let pd = 0;
    for (let i = 0; i < pr.length; i++) if (Math.abs(ref[i]) > 1e-2 * scale) pd = Math.max(pd, Math.abs(p[i] - pr[i]));
    assert.ok(pd <= 2e-5, `${what}: ${name} after AdamW differs from cpu by ${pd}`);
  }
}

const nativeAvailable = loadNative(1).blas;
const ortAvailable = loadOrt(1).addon !== null;

for (const [caseName, cfg] of Object.entries(CASES)) {
  test(`${caseName} CLIP training step: wasm on every tier matches the cpu backend`, async (t) => {
    const ref = await runStep('cpu', 'none', cfg);
    assert.ok(ref.grads.get('token_embedding.weight')!.some((x) => x !== 0), 'embedding gradient is zero');
    compare(await runStep('wasm', 'none', cfg), ref, `${caseName} on wasm`);
    compare(await runStep('wasm', 'js', cfg), ref, `${caseName} on wasm+js`);
    if (ortAvailable) compare(await runStep('wasm', 'ort', cfg), ref, `${caseName} on wasm+ort`);
    else t.diagnostic('onnxruntime-node not available: ort tier not exercised');
    if (!nativeAvailable) {
      t.diagnostic('native addon/OpenBLAS not available: openblas tier not exercised');
      return;
    }
    compare(await runStep('wasm', 'openblas', cfg), ref, `${caseName} on wasm+openblas`);
  });
  test(`${caseName} CLIP training step: the native backend on every tier matches the cpu backend`, async (t) => {
    const ref = await runStep('cpu', 'none', cfg);
    if (ortAvailable) compare(await runStep('native', 'ort', cfg), ref, `${caseName} on native+ort`);
    else t.diagnostic('onnxruntime-node not available: native+ort not exercised');
    if (nativeAvailable) compare(await runStep('native', 'openblas', cfg), ref, `${caseName} on native+openblas`);
    else t.diagnostic('native addon/OpenBLAS not available: native+openblas not exercised');
  });
}
