import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initEngine, loadSafetensors, Rng, tf, toFloat32, toInt32 } from '@openclip/engine';
import type { RawTensor, Variable } from '@openclip/engine';
import { fixtureSkip, referenceDir, referenceManifest } from '@openclip/test-config';
import { AdamW } from '../../src/optim/adamw.js';
import { clampLogitScale, LOGIT_SCALE_MAX } from '../../src/optim/logit-scale.js';
import { openclipParamGroups } from '../../src/optim/param-groups.js';
import { cosineLr } from '../../src/scheduler/lr-schedule.js';

const TOKEN_ROWS = 'token_embedding.weight[rows]';

interface TrainStepFixture {
  json: {
    optimizer: { lr: number; betas: [number, number]; eps: number; weight_decay: number; groups: { weight_decay: number; params: string[] }[] };
    schedule: { base_lr: number; warmup_length: number; steps: number };
    tracked_params: string[];
    steps: { step: number; lr: number; logit_scale_after_optimizer_step: number; logit_scale_after_clamp: number }[];
    clamp_case: { init_logit_scale: number; step: { lr: number; logit_scale_before: number; logit_scale_after_optimizer_step: number; logit_scale_after_clamp: number } };
  };
  tensors: Map<string, RawTensor>;
  weights: Map<string, RawTensor>;
  tol: { param_after_atol: number };
  get(name: string): Float32Array;
}

function fixture(): TrainStepFixture {
  const dir = referenceDir();
  const json = JSON.parse(readFileSync(join(dir, 'train', 'train_step.json'), 'utf8'));
  const { tensors } = loadSafetensors(join(dir, 'train', 'train_step.safetensors'));
  const { tensors: weights } = loadSafetensors(join(dir, json.weights));
  const tol = referenceManifest().cases.find((c: { id: string }) => c.id === 'train_step').tolerance;
  return {
    json,
    tensors,
    weights,
    tol,
    get(name) {
      const t = tensors.get(name);
      if (!t) throw new Error(`train/train_step.safetensors has no tensor '${name}'`);
      return toFloat32(t);
    },
  };
}

/** The tracked parameters at their initial values, the tracked token-embedding rows as one [rows, width] tensor. */
function initialParams(fx: TrainStepFixture): Map<string, Variable> {
  const params = new Map<string, Variable>();
  for (const name of fx.json.tracked_params) {
    const w = fx.weights.get(name);
    if (!w) throw new Error(`${name} missing from the fixture weights`);
    params.set(name, variableFrom(toFloat32(w), w.shape, name));
  }
  const emb = fx.weights.get('token_embedding.weight')!;
  const ids = toInt32(fx.tensors.get('token_embedding_rows')!, 'token_embedding_rows');
  const width = emb.shape[1];
  const all = toFloat32(emb);
  const rows = new Float32Array(ids.length * width);
  ids.forEach((id, r) => rows.set(all.subarray(id * width, (id + 1) * width), r * width));
  params.set('token_embedding.weight', variableFrom(rows, [ids.length, width], 'token_embedding.weight'));
  return params;
}

/** A variable holding `values`; the initial tensor is released. */
function variableFrom(values: Float32Array | number[], shape: number[], name: string): Variable {
  const t = tf.tensor(values, shape, 'float32');
  const v = tf.variable(t, true, name);
  t.dispose();
  return v;
}

function fixtureKey(name: string): string {
  return name === 'token_embedding.weight' ? TOKEN_ROWS : name;
}

function maxAbsErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// Fixture case `train_step`: two AdamW steps of OpenCLIP training on its model, applied here to
// the fixture's own gradients (the forward/backward is the models package's part), then the
// logit_scale clamp case. Parameters are checked after each step.
for (const [backend, kernel] of [['cpu', 'exact'], ['wasm', 'exact'], ['cpu', 'engine'], ['wasm', 'engine']] as const) {
test(`AdamW + OpenCLIP param groups + cosine_lr + clamp reproduce the fixture training steps [${backend}, ${kernel} kernel]`, { skip: fixtureSkip('train_step', ['train/train_step.json', 'train/train_step.safetensors']) }, async () => {
  await initEngine({ backend });
  const before = tf.memory().numTensors;
  // The exact kernel follows torch's float32 rounding: logit_scale comes out bit-identical.
  const sameScalar = (got: number, want: number, what: string) => {
    if (kernel === 'exact') assert.equal(got, Math.fround(want), what);
    else assert.ok(Math.abs(got - want) <= 1e-6, `${what}: ${got} vs ${want}`);
  };
  const fx = fixture();
  const o = fx.json.optimizer;
  const params = initialParams(fx);
  // The tracked parameters keep the group the fixture lists for them.
  const groups = openclipParamGroups(params, o.weight_decay);
  for (const g of groups) {
    const want = o.groups.find((x) => x.weight_decay === g.weightDecay)!;
    for (const n of g.names) assert.ok(want.params.includes(n), `${n} should be in the weight_decay=${g.weightDecay} group`);
  }
  const opt = new AdamW(params, { lr: o.lr, betas: o.betas, eps: o.eps, groups, kernel });
  const schedule = cosineLr(fx.json.schedule.base_lr, fx.json.schedule.warmup_length, fx.json.schedule.steps);
  const report: string[] = [];
  for (const s of fx.json.steps) {
    const lr = schedule(s.step);
    assert.equal(lr, s.lr, `lr at step ${s.step}`);
    const grads = new Map([...params.keys()].map((n) => [n, tf.tensor(fx.get(`step${s.step}.grad.${fixtureKey(n)}`), params.get(n)!.shape)]));
    opt.step(grads, { lr });
    tf.dispose([...grads.values()]);
    sameScalar(params.get('logit_scale')!.dataSync()[0], s.logit_scale_after_optimizer_step, `step ${s.step} logit_scale after optimizer.step()`);
    clampLogitScale(params);
    for (const [n, v] of params) {
      const want = fx.get(`step${s.step}.param_after.${fixtureKey(n)}`);
      const err = maxAbsErr(v.dataSync(), want);
      assert.ok(err <= fx.tol.param_after_atol, `step ${s.step} ${n}: max |err| ${err} > ${fx.tol.param_after_atol}`);
      report.push(`step${s.step} ${n} ${err.toExponential(2)}`);
    }
    sameScalar(params.get('logit_scale')!.dataSync()[0], s.logit_scale_after_clamp, `step ${s.step} logit_scale after the clamp`);
  }
  console.log(`# [${backend}, ${kernel}] worst param_after error: ${report.map((r) => Number(r.split(' ')[2])).reduce((a, b) => Math.max(a, b), 0).toExponential(2)}`);
  opt.dispose();
  tf.dispose([...params.values()]);

  // Clamp case: logit_scale starts at 4.62 (> ln 100); one step at lr = base_lr, then clamp.
  const c = fx.json.clamp_case;
  const ls = new Map([['logit_scale', variableFrom([c.init_logit_scale], [], 'logit_scale')]]);
  const clampOpt = new AdamW(ls, { lr: c.step.lr, betas: o.betas, eps: o.eps, groups: openclipParamGroups(ls, o.weight_decay), kernel });
  const g = tf.tensor(fx.get('clamp_case.step0.grad.logit_scale'), []);
  clampOpt.step(new Map([['logit_scale', g]]));
  g.dispose();
  sameScalar(ls.get('logit_scale')!.dataSync()[0], c.step.logit_scale_after_optimizer_step, 'clamp case after optimizer.step()');
  assert.equal(clampLogitScale(ls), Math.fround(c.step.logit_scale_after_clamp));
  assert.equal(LOGIT_SCALE_MAX, fx.get('clamp_case.step0.param_after.logit_scale')[0]);
  clampOpt.dispose();
  tf.dispose([...ls.values()]);
  assert.equal(tf.memory().numTensors, before);
});
}

/** Independent float64 AdamW (torch's formula, no float32 rounding) for the same run. */
function referenceAdamW(p: number[], grads: number[][], lrs: number[], wd: number, b1: number, b2: number, eps: number, scales: number[]): number[] {
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  const x = [...p];
  grads.forEach((g, t) => {
    const step = t + 1;
    const lr = lrs[t];
    for (let i = 0; i < x.length; i++) {
      const gi = g[i] * scales[t];
      x[i] *= 1 - lr * wd;
      m[i] = b1 * m[i] + (1 - b1) * gi;
      v[i] = b2 * v[i] + (1 - b2) * gi * gi;
      const denom = Math.sqrt(v[i]) / Math.sqrt(1 - b2 ** step) + eps;
      x[i] -= (lr / (1 - b1 ** step)) * (m[i] / denom);
    }
  });
  return x;
}

for (const [backend, kernel, resumeKernel] of [['cpu', 'exact', 'engine'], ['wasm', 'exact', 'exact'], ['cpu', 'engine', 'exact'], ['wasm', 'engine', 'engine']] as const) {
  test(`AdamW agrees with a float64 reference over several steps, and state round-trips [${backend}, ${kernel} kernel, resumed on ${resumeKernel}]`, async () => {
    await initEngine({ backend });
    const before = tf.memory().numTensors;
    const rng = new Rng(4);
    const shape = [5, 7];
    const n = 35;
    const init = Array.from(rng.fillNormal(new Float32Array(n)));
    const grads = Array.from({ length: 6 }, () => Array.from(rng.fillNormal(new Float32Array(n))));
    const lrs = [1e-3, 2e-3, 3e-3, 3e-3, 2e-3, 1e-3];
    const scales = [1, 0.5, 1, 0.25, 1, 1];
    let made = 0;
    const make = () => new Map([['w', variableFrom(init, shape, `w-${backend}-${made++}`)]]);
    const params = make();
    const opts = { lr: 1e-3, betas: [0.9, 0.98] as [number, number], eps: 1e-6, groups: [{ names: ['w'], weightDecay: 0.2 }] };
    const opt = new AdamW(params, { ...opts, kernel });
    assert.equal(opt.kernel, kernel);
    // Run 3 steps, save, continue in a fresh optimizer from the saved state.
    for (let t = 0; t < 3; t++) {
      const g = tf.tensor(grads[t], shape);
      opt.step(new Map([['w', g]]), { lr: lrs[t], gradScale: scales[t] });
      g.dispose();
    }
    const saved = opt.stateTensors();
    assert.equal(saved.tensors.size, 3);
    const resumed = new AdamW(params, { ...opts, kernel: resumeKernel });
    resumed.loadStateTensors(saved.tensors);
    assert.equal(resumed.stepOf('w'), 3);
    const copy = make();
    copy.get('w')!.assign(params.get('w')!);
    const twin = new AdamW(copy, { ...opts, kernel: resumeKernel });
    twin.loadStateTensors(saved.tensors);
    for (let t = 3; t < 6; t++) {
      const g = tf.tensor(grads[t], shape);
      resumed.step(new Map([['w', g]]), { lr: lrs[t], gradScale: scales[t] });
      opt.step(new Map([['w', g]]), { lr: lrs[t], gradScale: scales[t] });
      twin.step(new Map([['w', g]]), { lr: lrs[t], gradScale: scales[t] });
      g.dispose();
    }
    const want = referenceAdamW(init, grads, lrs, 0.2, 0.9, 0.98, 1e-6, scales);
    const err = maxAbsErr(copy.get('w')!.dataSync(), want);
    assert.ok(err < 2e-6, `float32 AdamW vs float64 reference: ${err}`);
    const m = (o: AdamW) => o.stateTensors().tensors.get('optimizer.state.w.exp_avg')!.data as Float32Array;
    if (kernel === resumeKernel) assert.deepEqual(Array.from(m(twin)), Array.from(m(opt)), 'restored state evolves identically');
    else assert.ok(maxAbsErr(m(twin), m(opt)) < 1e-7, 'restored state evolves alike on the other kernel');
    for (const o of [opt, resumed, twin]) o.dispose();
    tf.dispose([...params.values(), ...copy.values()]);
    assert.equal(tf.memory().numTensors, before);
  });
}

test('AdamW rejects bad groups, gradients and state with messages naming the tensor', async () => {
  await initEngine({ backend: 'cpu' });
  const w = tf.variable(tf.zeros([2, 2]), true, 'bad-w');
  const params = new Map([['w', w]]);
  assert.throws(() => new AdamW(params, { lr: 1, groups: [{ names: ['nope'], weightDecay: 0 }] }), /names 'nope', which is not among the parameters/);
  assert.throws(() => new AdamW(params, { lr: 1, betas: [1, 0.9] }), /invalid beta1 1/);
  const opt = new AdamW(params, { lr: 1 });
  const g = tf.zeros([3]);
  assert.throws(() => opt.step(new Map([['w', g]])), /gradient of 'w' has shape \[3\], parameter is \[2,2\]/);
  assert.throws(() => opt.step(new Map([['v', g]])), /gradient for 'v', which no parameter group holds/);
  assert.throws(() => opt.loadStateTensors(new Map([['optimizer.state.w.exp_avg', { shape: [3], data: new Float32Array(3) }]]), 'epoch_1.state.safetensors'), /epoch_1.state.safetensors: 'optimizer.state.w.exp_avg' has shape \[3\]/);
  assert.throws(() => opt.loadStateTensors(new Map([['optimizer.state.w.exp_avg', { shape: [2, 2], data: new Float32Array(4) }]])), /incomplete state for 'w'/);
  tf.dispose([w, g]);
});
