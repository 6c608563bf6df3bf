// The webgpu backend on whatever adapter Dawn offers here (a CPU Vulkan driver in CI, installed by
// `npm run setup:lavapipe`): synchronous reads, kernels against the cpu backend, the fused AdamW,
// selection rules, and flat tensor/GPU memory over repeated training steps. Skips, saying why,
// when Dawn finds no adapter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine } from '../../src/backend.js';
import { tf } from '../../src/tf.js';
import { adamwStep } from '../../src/adamw.js';
import { Rng } from '../../src/rng.js';
import { webgpuStatus, webgpuMemory, webgpuBackend } from '../../src/webgpu/load.js';
import { wouldSplitK } from '../../src/webgpu/kernels.js';

async function probe(): Promise<string | null> {
  try {
    await initEngine({ backend: 'webgpu' });
    return null;
  } catch (e) {
    return `no usable WebGPU adapter: ${(e as Error).message}`;
  }
}
const missing = await probe();
const skip = missing ?? false;

function values(n: number, seed: number): Float32Array {
  return new Rng(seed).fillNormal(new Float32Array(n));
}

/** Runs `f` on cpu and on webgpu with the same inputs; returns the largest difference and the scale. */
async function both(f: () => tf.Tensor): Promise<{ diff: number; scale: number }> {
  await initEngine({ backend: 'cpu' });
  const want = tf.tidy(f);
  const w = want.dataSync().slice();
  want.dispose();
  await initEngine({ backend: 'webgpu' });
  const got = tf.tidy(f);
  const g = got.dataSync();
  got.dispose();
  let diff = 0, scale = 0;
  for (let i = 0; i < w.length; i++) {
    diff = Math.max(diff, Math.abs(g[i] - w[i]));
    scale = Math.max(scale, Math.abs(w[i]));
  }
  return { diff, scale };
}

test('webgpu: the adapter is reported, and a software adapter is never taken in auto selection', { skip }, async () => {
  const s = webgpuStatus()!;
  assert.ok(s.loaded && s.adapter, 'webgpu loaded by name');
  assert.ok(Object.keys(s.adapter.limits).includes('maxBufferSize'));
  assert.ok(s.adapter.features.length > 0);
  const auto = await initEngine({ probeAll: true });
  const w = auto.backends.find((b) => b.name === 'webgpu')!;
  if (s.adapter.software) {
    assert.equal(w.available, false);
    assert.match(w.detail, /CPU implementation: used only when asked for by name/);
    assert.notEqual(auto.backend, 'webgpu');
  } else {
    assert.equal(auto.backend, auto.backends.find((b) => b.available)!.name);
  }
});

test('webgpu: dataSync reads GPU results synchronously and equals the asynchronous read', { skip }, async () => {
  await initEngine({ backend: 'webgpu' });
  const a = tf.tensor2d(values(64 * 96, 1), [64, 96]);
  const b = tf.tensor2d(values(96 * 40, 2), [96, 40]);
  const c1 = tf.matMul(a, b);
  const c2 = tf.matMul(a, b);
  assert.deepEqual(c1.dataSync(), await c2.data());
  assert.deepEqual(tf.scalar(3).add(tf.scalar(4)).arraySync(), 7);
  tf.dispose([a, b, c1, c2]);
});

test('webgpu: matrix products that TF.js would split over K (transposed B, K ≥ 2000) match cpu', { skip }, async () => {
  const cases: Array<[number, number, number, boolean, boolean]> = [[152, 4096, 8, false, true], [152, 4096, 8, true, true], [4, 3000, 64, false, true], [152, 4096, 8, false, false]];
  const threshold = (webgpuBackend() as unknown as { thresholdToIncreaseWorkgroups: number }).thresholdToIncreaseWorkgroups;
  for (const [m, k, n, ta, tb] of cases) {
    assert.ok(wouldSplitK(ta ? [k, m] : [m, k], tb ? [n, k] : [k, n], ta, tb, threshold), `[${m},${k}]x[${k},${n}] is a split-K product`);
    const A = values(m * k, 3), B = values(k * n, 4);
    const r = await both(() => tf.matMul(tf.tensor(A, ta ? [k, m] : [m, k]), tf.tensor(B, tb ? [n, k] : [k, n]), ta, tb));
    assert.ok(r.diff <= 1e-5 * k ** 0.5 * r.scale, `[${m},${k}]x[${k},${n}] ta=${ta} tb=${tb}: differs by ${r.diff} (scale ${r.scale})`);
    const f = await both(() => tf.fused.matMul({ a: tf.tensor(A, ta ? [k, m] : [m, k]), b: tf.tensor(B, tb ? [n, k] : [k, n]), transposeA: ta, transposeB: tb, bias: tf.ones([n]) }));
    assert.ok(f.diff <= 1e-5 * k ** 0.5 * f.scale, `fused [${m},${k}]x[${k},${n}]: differs by ${f.diff}`);
  }
});

test('webgpu: softmax, layer-norm moments, GELU, conv2d and the embedding-gather gradient match cpu', { skip }, async () => {
  const x = values(8 * 300, 5);
  const ids = new Int32Array(40).map((_, i) => (i * 37) % 300);
  const checks: Record<string, () => tf.Tensor> = {
    softmax: () => tf.softmax(tf.tensor2d(x, [8, 300])),
    moments: () => tf.moments(tf.tensor2d(x, [8, 300]), 1, true).variance,
    erf: () => tf.erf(tf.tensor1d(x)),
    conv2d: () => tf.conv2d(tf.tensor4d(x.subarray(0, 2 * 10 * 10 * 3), [2, 10, 10, 3]), tf.tensor4d(x.subarray(600, 600 + 3 * 3 * 3 * 4), [3, 3, 3, 4]), 1, 'same'),
    gatherGrad: () => tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.gather(t, tf.tensor1d(ids, 'int32')))))(tf.tensor2d(x, [300, 8])),
  };
  for (const [name, f] of Object.entries(checks)) {
    const r = await both(f);
    assert.ok(r.diff <= 2e-5 * Math.max(1, r.scale), `${name}: differs by ${r.diff} (scale ${r.scale})`);
  }
});

test('webgpu: the fused AdamW kernel matches the cpu backend over 20 steps', { skip }, async () => {
  const n = 1000;
  const p0 = values(n, 6);
  const grads = Array.from({ length: 20 }, (_, i) => values(n, 100 + i));
  async function run(backend: string): Promise<Float32Array> {
    await initEngine({ backend });
    const p = tf.variable(tf.tensor1d(p0)), m = tf.variable(tf.zeros([n])), v = tf.variable(tf.zeros([n]));
    for (let s = 1; s <= 20; s++) {
      const g = tf.tensor1d(grads[s - 1]);
      adamwStep(p, g, m, v, { lr: 1e-2, weightDecay: 0.1, step: s });
      g.dispose();
    }
    const out = (p.dataSync() as Float32Array).slice();
    tf.dispose([p, m, v]);
    return out;
  }
  const want = await run('cpu');
  const got = await run('webgpu');
  assert.ok(tf.getKernel('OpenclipAdamW', 'webgpu'), 'fused AdamW registered on webgpu');
  let diff = 0;
  for (let i = 0; i < n; i++) diff = Math.max(diff, Math.abs(got[i] - want[i]));
  assert.ok(diff <= 2e-6, `parameters differ by ${diff} after 20 steps`);
});

test('webgpu: repeated training steps keep the tensor count and GPU memory flat', { skip }, async () => {
  await initEngine({ backend: 'webgpu' });
  const w = tf.variable(tf.tensor2d(values(32 * 16, 7), [32, 16]).mul(0.1));
  const m = tf.variable(tf.zeros([32, 16])), v = tf.variable(tf.zeros([32, 16]));
  const x = tf.tensor2d(values(8 * 32, 8), [8, 32]);
  const step = (s: number) => {
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(tf.tanh(tf.matMul(x, w)))) as tf.Scalar, [w]);
    adamwStep(w, grads[w.name], m, v, { lr: 1e-3, step: s });
    const loss = value.dataSync()[0];
    tf.dispose([value, grads[w.name]]);
    return loss;
  };
  for (let s = 1; s <= 5; s++) step(s);
  const tensors = tf.memory().numTensors;
  const gpu = webgpuMemory()!;
  let last = NaN;
  for (let s = 6; s <= 60; s++) last = step(s);
  assert.ok(Number.isFinite(last));
  assert.equal(tf.memory().numTensors, tensors, 'tensor count after 55 more steps');
  const after = webgpuMemory()!;
  assert.equal(after.bytesInUse, gpu.bytesInUse, 'bytes in live GPU buffers');
  assert.ok(after.bytesAllocated <= gpu.bytesAllocated * 1.5 + 65536, `GPU buffer pool grew from ${gpu.bytesAllocated} to ${after.bytesAllocated} bytes`);
  tf.dispose([w, m, v, x]);
});

if (missing) test(`webgpu: ${missing}`, { skip: missing }, () => undefined);
