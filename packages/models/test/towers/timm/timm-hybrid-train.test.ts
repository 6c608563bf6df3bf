import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '@openclip/engine';
import { readModelConfigFile } from '../../../src/config/registry.js';
import { createModel } from '../../../src/model/create.js';
import type { CLIP } from '../../../src/model/clip.js';
import { asFloat, compare, readAll } from '../../../test-support/reference-models.js';
import { timmCases } from '../../../test-support/timm-fixtures.js';
import type { TimmCase } from '../../../test-support/timm-fixtures.js';
import { registerTimmModel } from '../../../src/towers/timm/timm-registry.js';

// Training the hybrid towers (ViTamin, MobileCLIP) in train mode: stochastic depth (timm DropPath)
// as timm draws it, a gradient for every trainable parameter, BatchNorm statistics that move in
// train mode and stay put when lock_image_tower freezes them (freeze_bn_stats).

const { cases, skip } = timmCases();
const byName = (n: string): TimmCase | undefined => cases.find((c) => c.name === n);

function load(c: TimmCase, dropPathRate?: number): { model: CLIP; images: tf.Tensor4D } {
  registerTimmModel(c.timm.name, c.timm);
  const cfg = readModelConfigFile(c.config);
  if (dropPathRate !== undefined) cfg.vision_cfg.timm_drop_path = dropPathRate;
  const model = createModel(cfg, { initWeights: false }) as CLIP;
  model.loadStateDict(readAll(c.weights), { strict: true, source: c.weights });
  const px = readAll(c.outputs).get('inputs.pixels')!;
  return { model, images: tf.tensor4d(asFloat(px), px.shape as [number, number, number, number]) };
}

test('ViTamin in train mode: timm_drop_path changes the features, 0 leaves them equal to eval; every image-tower parameter gets a non-zero gradient', { skip: skip || !byName('vitamin_tiny') }, async () => {
  await initEngine({ backend: 'wasm' });
  const c = byName('vitamin_tiny')!;
  for (const rate of [0, 0.5]) {
    const { model, images } = load(c, rate);
    const evalF = model.encodeImage(images);
    model.train();
    const trainF = model.encodeImage(images);
    const diff = compare(trainF.dataSync() as Float32Array, evalF.dataSync() as Float32Array, 1e-6).maxAbs;
    if (rate === 0) assert.ok(diff < 1e-6, `no stochastic depth: train and eval features differ by ${diff}`);
    else assert.ok(diff > 1e-3, `stochastic depth ${rate}: train features equal eval ones`);
    const params = [...model.params.entries()].filter(([n, v]) => n.startsWith('visual.') && v.trainable);
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(model.encodeImage(images))) as tf.Scalar, params.map(([, v]) => v));
    for (const [n, v] of params) {
      const g = grads[v.name];
      assert.ok(g, `no gradient for ${n}`);
      const a = g.abs().max().dataSync()[0];
      assert.ok(Number.isFinite(a) && a > 0, `${n}: gradient max |g| = ${a}`);
    }
    tf.dispose([evalF, trainF, value, images, ...Object.values(grads)]);
    model.dispose();
  }
});

for (const name of ['fastvit_mci_tiny', 'vit_mci_tiny']) {
  test(`${name}: train mode updates BatchNorm statistics; lock_image_tower(0, freeze_bn_stats) keeps them and the train-mode features equal eval`, { skip: skip || !byName(name) }, async () => {
    await initEngine({ backend: 'wasm' });
    const c = byName(name)!;
    const { model, images } = load(c);
    const bufs = [...model.buffers.entries()].filter(([n]) => n.startsWith('visual.trunk.') && n.endsWith('running_var'));
    assert.ok(bufs.length > 0, 'the trunk has BatchNorm layers');
    const before = bufs.map(([, v]) => v.dataSync().slice() as Float32Array);
    model.train();
    tf.dispose(model.encodeImage(images));
    const moved = bufs.filter(([, v], i) => compare(v.dataSync() as Float32Array, before[i], 0).maxAbs > 0).length;
    assert.equal(moved, bufs.length, 'every running_var moves after a train-mode forward');
    model.dispose();
    images.dispose();

    const locked = load(c);
    locked.model.lockImageTower(0, true);
    const evalF = locked.model.encodeImage(locked.images);
    locked.model.train();
    const trainF = locked.model.encodeImage(locked.images);
    const frozen = [...locked.model.buffers.entries()].filter(([n]) => n.startsWith('visual.trunk.') && n.endsWith('running_var'));
    frozen.forEach(([n, v], i) => assert.equal(compare(v.dataSync() as Float32Array, before[i], 0).maxAbs, 0, `${n} moved although frozen`));
    assert.ok(compare(trainF.dataSync() as Float32Array, evalF.dataSync() as Float32Array, 1e-6).ok, 'frozen BatchNorm uses running statistics in train mode');
    const trainable = [...locked.model.params.entries()].filter(([n, v]) => n.startsWith('visual.trunk.') && v.trainable);
    assert.deepEqual(trainable, [], 'lock_image_tower(0) freezes the whole trunk');
    tf.dispose([evalF, trainF, locked.images]);
    locked.model.dispose();
  });
}

test('FastViT in train mode with frozen BatchNorm: timm_drop_path (stochastic depth over the blocks) changes the features', { skip: skip || !byName('fastvit_mci_tiny') }, async () => {
  await initEngine({ backend: 'wasm' });
  const c = byName('fastvit_mci_tiny')!;
  const { model, images } = load(c, 0.9);
  model.lockImageTower(0, true);
  const evalF = model.encodeImage(images);
  model.train();
  const trainF = model.encodeImage(images);
  const diff = compare(trainF.dataSync() as Float32Array, evalF.dataSync() as Float32Array, 1e-6).maxAbs;
  assert.ok(diff > 1e-4, `stochastic depth 0.9: train features equal eval ones (max diff ${diff})`);
  tf.dispose([evalF, trainF, images]);
  model.dispose();
});
