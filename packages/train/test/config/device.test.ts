import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveDevice, DeviceError } from '../../src/config/device.js';

const wasm = { backend: 'wasm', backends: [{ name: 'tensorflow', available: false, detail: 'not installed' }, { name: 'wasm', available: true, detail: 'tfjs-backend-wasm' }] };
const gpu = { backend: 'tensorflow', backends: [{ name: 'tensorflow', available: true, detail: '@tensorflow/tfjs-node-gpu' }] };
const tfCpu = { backend: 'tensorflow', backends: [{ name: 'tensorflow', available: true, detail: '@tensorflow/tfjs-node' }] };

test("--device cuda falls back to the CPU with OpenCLIP's warning when no GPU backend runs", () => {
  const r = resolveDevice('cuda', wasm);
  assert.equal(r.device, 'cpu');
  assert.match(r.warning!, /^Device cuda was not available, falling back to CPU/);
  assert.equal(resolveDevice('cuda', tfCpu).device, 'cpu');
  assert.deepEqual(resolveDevice('cpu', wasm), { device: 'cpu', warning: null });
});

test('--device cuda on tfjs-node-gpu is cuda:<local rank>; cpu there and other GPUs are refused with the way out', () => {
  assert.deepEqual(resolveDevice('cuda', gpu, 0), { device: 'cuda:0', warning: null });
  assert.equal(resolveDevice('cuda:0', gpu).device, 'cuda:0');
  assert.throws(() => resolveDevice('cuda:1', gpu), /--device cuda:1: .*CUDA_VISIBLE_DEVICES=1/);
  assert.throws(() => resolveDevice('cpu', gpu), /--device cpu: .*CUDA_VISIBLE_DEVICES= .*--backend wasm/);
});

test('devices TensorFlow.js cannot drive are refused by name', () => {
  for (const d of ['mps', 'xpu', 'npu:0', 'hpu']) assert.throws(() => resolveDevice(d, wasm), (e: Error) => e instanceof DeviceError && e.message.startsWith(`--device ${d}:`));
  assert.throws(() => resolveDevice('cuda:x', wasm), /expected TYPE or TYPE:INDEX/);
});
