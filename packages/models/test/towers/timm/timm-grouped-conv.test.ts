import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Rng, availableTiers, initEngine, loadSafetensors, tf, toFloat32 } from '@openclip/engine';
import type { RawTensor } from '@openclip/engine';
import { ParamStore } from '../../../src/towers/params.js';
import { TimmConv2d } from '../../../src/towers/timm/timm-conv.js';
import { nchwToNhwc } from '../../../src/towers/timm/timm-conv-layers.js';

// PyTorch's grouped conv2d (tools/fixtures/grouped_conv.py): output and the gradients of sum(y·C)
// for input, weight and bias, through TimmConv2d on cpu (one convolution per group), wasm, and the
// native backend's openblas tier (the addon's grouped kernels), where available.
const DIR = fileURLToPath(new URL('../../../../test-fixtures/grouped-conv', import.meta.url));

interface GroupedCase {
  in_channels: number; out_channels: number; kernel_size: number; groups: number; stride: number; padding: number; bias: boolean;
  input_shape: number[]; output_shape: number[];
}

function backends(): { backend: 'cpu' | 'wasm' | 'native'; accel?: 'openblas' }[] {
  const list: { backend: 'cpu' | 'wasm' | 'native'; accel?: 'openblas' }[] = [{ backend: 'cpu' }, { backend: 'wasm' }];
  if (availableTiers(1).includes('openblas')) list.push({ backend: 'native', accel: 'openblas' }, { backend: 'wasm', accel: 'openblas' });
  return list;
}

test('grouped Conv2d matches PyTorch (output, input / weight / bias gradients) on every backend, without leaks', async (t) => {
  const manifest = JSON.parse(readFileSync(`${DIR}/manifest.json`, 'utf8')) as { cases: Record<string, GroupedCase> };
  const { tensors } = loadSafetensors(`${DIR}/grouped-conv.safetensors`);
  const get = (key: string): RawTensor => {
    const r = tensors.get(key);
    if (!r) throw new Error(`grouped-conv.safetensors: no tensor ${key}`);
    return r;
  };
  const nchw = (key: string) => tf.tidy(() => nchwToNhwc(tf.tensor(toFloat32(get(key)), get(key).shape)));
  const worst = { y: 0, dx: 0, dw: 0, db: 0 };
  const list = backends();
  for (const { backend, accel } of list) {
    await initEngine({ backend, ...(accel ? { accel } : {}) });
    for (const [name, c] of Object.entries(manifest.cases)) {
      assert.ok(c.groups > 1 && c.groups < c.in_channels, `${name}: a grouped (not dense, not depthwise) case`);
      const before = tf.memory().numTensors;
      const store = new ParamStore(new Rng(0));
      const conv = new TimmConv2d(store, 'conv', c.in_channels, c.out_channels, c.kernel_size, { groups: c.groups, stride: c.stride, padding: c.padding, bias: c.bias });
      const w = get(`${name}.weight`);
      tf.tidy(() => {
        conv.weight.assign(tf.tensor(toFloat32(w), w.shape));
        if (c.bias) conv.bias!.assign(tf.tensor(toFloat32(get(`${name}.bias`)), [c.out_channels]));
      });
      const x = nchw(`${name}.x`);
      const cot = nchw(`${name}.cotangent`);
      const wantY = nchw(`${name}.y`), wantDx = nchw(`${name}.grad_x`);
      const wantDw = tf.tensor(toFloat32(get(`${name}.grad_weight`)), get(`${name}.grad_weight`).shape);
      const wantDb = c.bias ? tf.tensor(toFloat32(get(`${name}.grad_bias`)), [c.out_channels]) : null;
      const y = conv.apply(x);
      const vars = [conv.weight, ...(conv.bias ? [conv.bias] : [])];
      const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(conv.apply(a), cot)))(x);
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(conv.apply(x), cot)) as tf.Scalar, vars);
      const err = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
      const where = `${name} on ${backend}${accel ? `/${accel}` : ''}`;
      assert.deepEqual(y.shape, [c.output_shape[0], c.output_shape[2], c.output_shape[3], c.output_shape[1]], where);
      const e = { y: err(y, wantY), dx: err(dx, wantDx), dw: err(grads[conv.weight.name], wantDw), db: wantDb ? err(grads[conv.bias!.name], wantDb) : 0 };
      for (const k of ['y', 'dx', 'dw', 'db'] as const) {
        assert.ok(e[k] <= 2e-5, `${where}: ${k} max abs error ${e[k]}`);
        worst[k] = Math.max(worst[k], e[k]);
      }
      tf.dispose([value, x, cot, wantY, wantDx, wantDw, y, dx, ...Object.values(grads), ...(wantDb ? [wantDb] : [])]);
      store.dispose();
      assert.equal(tf.memory().numTensors, before, `${where}: leaked tensors`);
    }
  }
  t.diagnostic(`${list.map((b) => (b.accel ? `${b.backend}/${b.accel}` : b.backend)).join(', ')}: max abs error vs PyTorch: output ${worst.y.toExponential(1)}, input grad ${worst.dx.toExponential(1)}, weight grad ${worst.dw.toExponential(1)}, bias grad ${worst.db.toExponential(1)}`);
});
