// Fixture case `train_step` end to end: the tiny ViT CLIP from the reference weights, the
// fixture's batch, ClipLoss, AdamW with OpenCLIP's parameter groups and the cosine schedule —
// loss, gradients and updated parameters of two steps, and the logit_scale clamp case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixtureSkip, referenceDir, referenceManifest } from '@openclip/test-config';
import { initEngine, tf, loadSafetensors, toFloat32, toInt32, type RawTensor, Rng } from '@openclip/engine';
import { createModel, type OpenClipModel } from '@openclip/models';
import { ClipLoss } from '@openclip/losses';
import { AdamW } from '../src/optim/adamw.js';
import { openclipParamGroups } from '../src/optim/param-groups.js';
import { cosineLr } from '../src/scheduler/lr-schedule.js';
import { TrainStep, type MicroBatch } from '../src/train-step.js';

// Fixture case `train_step` (its model, batch, optimizer and schedule all named in train_step.json);
// every test here skips, saying why, without it.
const SKIP = fixtureSkip('train_step', ['train/train_step.json', 'train/train_step.safetensors', 'preprocess/preprocess.safetensors']);
const ref = SKIP ? '' : referenceDir();
const spec = SKIP ? null : JSON.parse(readFileSync(join(ref, 'train', 'train_step.json'), 'utf8'));
const tol = SKIP ? null : referenceManifest().cases.find((c: { id: string }) => c.id === 'train_step').tolerance;
const fx = SKIP ? new Map<string, RawTensor>() : loadSafetensors(join(ref, 'train', 'train_step.safetensors')).tensors;
const weights = SKIP ? new Map<string, RawTensor>() : loadSafetensors(join(ref, spec.weights)).tensors;
const config = SKIP ? null : JSON.parse(readFileSync(join(ref, spec.config), 'utf8'));
const pre = SKIP ? new Map<string, RawTensor>() : loadSafetensors(join(ref, 'preprocess', 'preprocess.safetensors')).tensors;

function f32(name: string, map: Map<string, RawTensor> = fx): Float32Array {
  const t = map.get(name);
  if (!t) throw new Error(`fixture tensor '${name}' missing`);
  return toFloat32(t);
}

function batch(): MicroBatch {
  const imgs = spec.batch.images.map((k: string) => f32(k, pre));
  const [c, h, w] = pre.get(spec.batch.images[0])!.shape;
  const data = new Float32Array(imgs.length * c * h * w);
  imgs.forEach((a: Float32Array, i: number) => data.set(a, i * a.length));
  const tok = fx.get('inputs.text_tokens')!;
  return { images: tf.tensor4d(data, [imgs.length, c, h, w]), tokens: tf.tensor2d(toInt32(tok), tok.shape as [number, number], 'int32') };
}

function build(): { model: OpenClipModel; step: TrainStep; optimizer: AdamW } {
  const model = createModel(config, { rng: null } as never);
  model.loadStateDict(weights);
  model.train();
  const trainable = [...model.params.keys()].filter((k) => !model.frozen.has(k));
  const infos = new Map(trainable.map((k) => [k, { shape: model.params.get(k)!.shape }]));
  const groups = openclipParamGroups(infos, spec.optimizer.weight_decay);
  const optimizer = new AdamW(model.params, { lr: spec.optimizer.lr, betas: spec.optimizer.betas, eps: spec.optimizer.eps, groups });
  const step = new TrainStep(model, new ClipLoss(), optimizer, { trainable });
  return { model, step, optimizer };
}

function rowsOf(model: OpenClipModel): Float32Array {
  const ids: number[] = spec.token_embedding_rows.ids;
  const w = model.params.get('token_embedding.weight')!;
  const width = w.shape[1] as number;
  const all = w.dataSync() as Float32Array;
  const out = new Float32Array(ids.length * width);
  ids.forEach((id, i) => out.set(all.subarray(id * width, (id + 1) * width), i * width));
  return out;
}

function maxErr(got: Float32Array, want: Float32Array, rtol = 0): number {
  assert.equal(got.length, want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) - rtol * Math.abs(want[i]));
  return worst;
}

for (const backend of ['cpu', 'wasm']) {
  test(`train_step fixture: two AdamW steps on ${spec?.model ?? 'its model'} reproduce loss and parameters (${backend})`, { skip: SKIP }, async () => {
    await initEngine({ backend });
    const { model, step } = build();
    const mb = batch();
    const sched = cosineLr(spec.schedule.base_lr, spec.schedule.warmup_length, spec.schedule.steps);
    let before = -1;
    const report: string[] = [];
    for (const s of [0, 1]) {
      // the first step creates the optimizer state (tensors on the fused-AdamW path); later steps add none
      if (s === 1) before = tf.memory().numTensors;
      const lr = sched(s);
      assert.ok(Math.abs(lr - spec.steps[s].lr) < 1e-12, `lr of step ${s}`);
      const r = step.run([mb], lr);
      const lossErr = Math.abs(r.total - f32(`step${s}.loss`)[0]);
      report.push(`step${s} loss err ${lossErr.toExponential(2)}`);
      assert.ok(lossErr <= tol.loss_atol, `step ${s} loss ${r.total} vs ${f32(`step${s}.loss`)[0]}`);
      for (const name of spec.tracked_params as string[]) {
        const e = maxErr(model.params.get(name)!.dataSync() as Float32Array, f32(`step${s}.param_after.${name}`));
        report.push(`step${s} ${name} ${e.toExponential(2)}`);
        assert.ok(e <= tol.param_after_atol, `step ${s} param ${name}: max error ${e}`);
      }
      const e = maxErr(rowsOf(model), f32(`step${s}.param_after.token_embedding.weight[rows]`));
      assert.ok(e <= tol.param_after_atol, `step ${s} token embedding rows: ${e}`);
    }
    assert.equal(tf.memory().numTensors, before, 'a step leaks no tensor');
    tf.dispose([mb.images, mb.tokens]);
    model.dispose();
    console.log(`# ${backend}: ${report.filter((l) => l.includes('loss')).join('; ')}`);
  });
}

test('train_step fixture: gradients of the first step match (cpu)', async () => {
  await initEngine({ backend: 'cpu' });
  const { model } = build();
  const mb = batch();
  const loss = new ClipLoss();
  const names = spec.tracked_params as string[];
  const vars = names.map((n) => model.params.get(n)!);
  const r = tf.variableGrads(() => tf.addN(Object.values(loss.call({
    image_features: model.forward(mb.images, mb.tokens).imageFeatures!,
    text_features: model.forward(mb.images, mb.tokens).textFeatures!,
    logit_scale: model.forward(null, null).logitScale,
  }))) as tf.Scalar, vars);
  names.forEach((n, i) => {
    const g = r.grads[vars[i].name].dataSync() as Float32Array;
    const e = maxErr(g, f32(`step0.grad.${n}`), tol.grad_rtol);
    assert.ok(e <= tol.grad_atol, `grad ${n}: ${e}`);
  });
  tf.dispose([r.value, ...Object.values(r.grads), mb.images, mb.tokens]);
  model.dispose();
});

test('train_step fixture: logit_scale above ln(100) is clamped after the step', { skip: SKIP }, async () => {
  await initEngine({ backend: 'cpu' });
  const { model, step } = build();
  model.params.get('logit_scale')!.assign(tf.scalar(spec.clamp_case.init_logit_scale));
  const mb = batch();
  const r = step.run([mb], spec.clamp_case.step.lr);
  assert.ok(Math.abs(r.total - f32('clamp_case.step0.loss')[0]) <= tol.loss_atol);
  const after = model.params.get('logit_scale')!.dataSync()[0];
  assert.ok(Math.abs(after - f32('clamp_case.step0.param_after.logit_scale')[0]) <= 1e-6, `${after}`);
  assert.ok(Math.abs(r.logitScale - 100) < 1e-3);
  tf.dispose([mb.images, mb.tokens]);
  model.dispose();
});

test('accumulation over 2 micro-batches equals the step on the whole batch', { skip: SKIP }, async () => {
  await initEngine({ backend: 'cpu' });
  const rng = new Rng(1);
  const a = build();
  const b = build();
  const mb = batch();
  // The fixture's batch split in two: [0, h) and [h, n).
  const n = mb.images.shape[0]!;
  const h = n >> 1;
  const halves: MicroBatch[] = [[0, h], [h, n - h]].map(([o, k]) => ({ images: mb.images.slice([o, 0, 0, 0], [k, -1, -1, -1]), tokens: mb.tokens.slice([o, 0], [k, -1]) }));
  const ra = a.step.run([mb], 1e-3);
  const rb = b.step.run(halves, 1e-3);
  assert.ok(Math.abs(ra.total - rb.total) < 1e-5, `${ra.total} vs ${rb.total}`);
  for (const name of a.model.params.keys()) {
    const e = maxErr(a.model.params.get(name)!.dataSync() as Float32Array, b.model.params.get(name)!.dataSync() as Float32Array);
    assert.ok(e < 2e-5, `${name}: ${e}`);
  }
  void rng;
  tf.dispose([mb.images, mb.tokens, ...halves.flatMap((h) => [h.images, h.tokens])]);
  a.model.dispose();
  b.model.dispose();
});
