import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, engineInfo } from './backend.js';
import { tf } from './tf.js';

test('auto picks an available backend and reports every candidate', async () => {
  const info = await initEngine({ probeAll: true });
  assert.equal(tf.getBackend(), info.backend);
  assert.ok(info.backends.find((b) => b.name === info.backend)?.available);
  assert.deepEqual(info.backends.map((b) => b.name).sort(), ['cpu', 'tensorflow', 'wasm', 'webgpu']);
  assert.equal(engineInfo(), info);
  assert.ok(info.threads >= 1);
});

test('an explicit backend is used, and computes', async () => {
  for (const name of ['cpu', 'wasm']) {
    const info = await initEngine({ backend: name });
    assert.equal(info.backend, name);
    assert.equal(info.selectedBy, 'flag');
    assert.equal(tf.getBackend(), name);
    const y = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])));
    assert.deepEqual(await y.data(), new Float32Array([11]));
    y.dispose();
  }
});

test('OPENCLIP_BACKEND is honoured and a bad value is a clear error', async () => {
  const saved = process.env.OPENCLIP_BACKEND;
  try {
    process.env.OPENCLIP_BACKEND = 'cpu';
    const info = await initEngine();
    assert.equal(info.backend, 'cpu');
    assert.equal(info.selectedBy, 'OPENCLIP_BACKEND');
    process.env.OPENCLIP_BACKEND = 'tpu';
    await assert.rejects(initEngine(), /OPENCLIP_BACKEND: unknown backend 'tpu' \(choose one of: auto, /);
    await assert.rejects(initEngine({ backend: 'nope' }), /--backend: unknown backend 'nope'/);
  } finally {
    if (saved === undefined) delete process.env.OPENCLIP_BACKEND;
    else process.env.OPENCLIP_BACKEND = saved;
  }
});

test('tensorflow is reported unavailable with a reason when tfjs-node is absent', async () => {
  const info = await initEngine({ probeAll: true });
  const t = info.backends.find((b) => b.name === 'tensorflow')!;
  if (!t.available) assert.match(t.detail, /tfjs-node/);
  else assert.equal(info.backend, 'tensorflow');
});
