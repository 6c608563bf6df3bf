import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf, Rng } from '@openclip/engine';
import { ParamStore } from '../../../src/towers/params.js';
import { TimmConv2d } from '../../../src/towers/timm/timm-conv.js';
import { dropPath, dropPathRates } from '../../../src/towers/timm/timm-layers.js';

test('grouped Conv2d equals a dense convolution with the block-diagonal weight', async () => {
  await initEngine({ backend: 'cpu' });
  const store = new ParamStore(new Rng(1));
  const grouped = new TimmConv2d(store, 'g', 6, 4, 3, { groups: 2, stride: 2 });
  const dense = new TimmConv2d(store, 'd', 6, 4, 3, { stride: 2 });
  assert.deepEqual(grouped.weight.shape, [4, 3, 3, 3]);
  // dense weight [4, 6, 3, 3]: output block g reads input channels 3g..3g+2 only
  const w = grouped.weight.arraySync() as number[][][][];
  const full = Array.from({ length: 4 }, (_, o) => Array.from({ length: 6 }, (_, i) => (Math.floor(o / 2) === Math.floor(i / 3) ? w[o][i % 3] : [[0, 0, 0], [0, 0, 0], [0, 0, 0]])));
  dense.weight.assign(tf.tensor4d(full));
  dense.bias!.assign(grouped.bias!);
  const x = tf.randomNormal([2, 7, 7, 6], 0, 1, 'float32', 3);
  const a = grouped.apply(x), b = dense.apply(x);
  assert.deepEqual(a.shape, [2, 4, 4, 4]); // timm's default padding for k3 s2 is 1
  const diff = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
  assert.ok(diff < 1e-5, `max abs difference ${diff}`);
  // a depthwise conv with channel multiplier 2 matches the same construction
  const dw = new TimmConv2d(store, 'dw', 3, 6, 3, { groups: 3 });
  const dd = new TimmConv2d(store, 'dd', 3, 6, 3);
  const wd = dw.weight.arraySync() as number[][][][];
  dd.weight.assign(tf.tensor4d(Array.from({ length: 6 }, (_, o) => Array.from({ length: 3 }, (_, i) => (Math.floor(o / 2) === i ? wd[o][0] : [[0, 0, 0], [0, 0, 0], [0, 0, 0]])))));
  dd.bias!.assign(dw.bias!);
  const x3 = tf.randomNormal([1, 5, 5, 3], 0, 1, 'float32', 4);
  const diff2 = tf.max(tf.abs(tf.sub(dw.apply(x3), dd.apply(x3)))).dataSync()[0];
  assert.ok(diff2 < 1e-5, `depthwise max abs difference ${diff2}`);
  assert.throws(() => grouped.apply(x3), /expected NHWC input with 6 channels, got \[1,5,5,3\]/);
  assert.throws(() => new TimmConv2d(store, 'bad', 5, 4, 1, { groups: 2 }), /bad: 5 in \/ 4 out channels are not divisible by groups=2/);
  tf.dispose([x, a, b, x3]);
  store.dispose();
});

test('dropPath keeps or zeroes whole samples (scaled by 1/keep), is the identity at rate 0; drop-path rates rise linearly over the blocks', async () => {
  await initEngine({ backend: 'cpu' });
  const x = tf.ones([400, 2, 2, 3]);
  assert.equal(dropPath(x, 0, new Rng(0)), x, 'rate 0 is the identity');
  const y = dropPath(x, 0.25, new Rng(0));
  const per = (tf.max(y, [1, 2, 3]).dataSync() as Float32Array);
  const mins = (tf.min(y, [1, 2, 3]).dataSync() as Float32Array);
  let kept = 0;
  for (let i = 0; i < 400; i++) {
    assert.equal(per[i], mins[i], 'one factor per sample');
    assert.ok(per[i] === 0 || Math.abs(per[i] - 1 / 0.75) < 1e-6, `sample ${i}: ${per[i]}`);
    if (per[i] > 0) kept++;
  }
  assert.ok(kept > 260 && kept < 340, `kept ${kept} of 400 at keep probability 0.75`);
  tf.dispose([x, y]);
  // timm's calculate_drop_path_rates(0.1, [1, 2, 1]): linspace(0, 0.1, 4) split per stage
  const r = dropPathRates(0.1, [1, 2, 1]);
  assert.deepEqual(r.map((s) => s.length), [1, 2, 1]);
  assert.ok(Math.abs(r[1][1] - 0.2 / 3) < 1e-7 && r[0][0] === 0 && Math.abs(r[2][0] - 0.1) < 1e-7);
});
