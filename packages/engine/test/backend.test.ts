import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { initEngine, engineInfo } from '../src/backend.js';
import { tf } from '../src/tf.js';

test('auto picks an available backend and reports every candidate', async () => {
  const info = await initEngine({ probeAll: true });
  assert.equal(tf.getBackend(), info.backend);
  assert.ok(info.backends.find((b) => b.name === info.backend)?.available);
  assert.deepEqual(info.backends.map((b) => b.name).sort(), ['cpu', 'native', 'tensorflow', 'wasm', 'webgpu']);
  assert.equal(engineInfo(), info);
  assert.ok(info.threads >= 1);
});

test('an explicit backend is used, and computes', async () => {
  const names = ['cpu', 'wasm'];
  if ((await initEngine({ probeAll: true })).backends.find((b) => b.name === 'native')?.available) names.push('native');
  for (const name of names) {
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

test('auto takes the native backend when a native tier loads, else wasm, and says why', () => {
  const probe = (env: Record<string, string>) => {
    const script = `
      import { initEngine } from ${JSON.stringify(new URL('../src/index.js', import.meta.url).href)};
      const info = await initEngine({ probeAll: true });
      console.log(JSON.stringify({ backend: info.backend, tier: info.accel.tier, native: info.backends.find((b) => b.name === 'native') }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as { backend: string; tier: string; native: { available: boolean; detail: string } };
  };
  const none = probe({ OPENCLIP_NATIVE: '0', OPENCLIP_ORT: '0', OPENCLIP_BACKEND: 'auto' });
  assert.equal(none.backend, 'wasm');
  assert.equal(none.tier, 'js');
  assert.equal(none.native.available, false);
  assert.match(none.native.detail, /openblas: disabled by OPENCLIP_NATIVE=0; ort: disabled by OPENCLIP_ORT=0/);
  const jsOnly = probe({ OPENCLIP_ACCEL: 'js', OPENCLIP_BACKEND: 'auto' });
  assert.equal(jsOnly.backend, 'wasm');
  assert.match(jsOnly.native.detail, /tier 'js' runs on the wasm backend only/);
  const auto = probe({ OPENCLIP_BACKEND: 'auto' });
  if (auto.native.available) assert.equal(auto.backend, 'native');
  assert.ok(['openblas', 'ort', 'js'].includes(auto.tier));
});
