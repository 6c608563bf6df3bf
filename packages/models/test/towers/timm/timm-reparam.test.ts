import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '@openclip/engine';
import { readModelConfigFile } from '../../../src/config/registry.js';
import { createModelFromPretrained } from '../../../src/factory/factory.js';
import type { CLIP } from '../../../src/model/clip.js';
import { asFloat, compare, readAll } from '../../../test-support/reference-models.js';
import { registerTimmModel } from '../../../src/towers/timm/timm-registry.js';
import { timmCases } from '../../../test-support/timm-fixtures.js';

// A MobileCLIP checkpoint saved after timm's reparameterize_model (the timm-hybrid set's
// fastvit_mci_reparam_tiny weights) loaded with the config of the train-time tower
// (fastvit_mci_tiny): the factory sees the reparam_conv keys and builds timm's inference_mode structure.
test('a re-parameterised FastViT checkpoint loads into the train-time config as timm\'s inference_mode model; other towers refuse it', async (t) => {
  const { cases, skip } = timmCases();
  const fused = cases.find((c) => c.name === 'fastvit_mci_reparam_tiny');
  const plain = cases.find((c) => c.name === 'fastvit_mci_tiny');
  const vitamin = cases.find((c) => c.name === 'vitamin_tiny');
  if (skip || !fused || !plain || !vitamin) {
    t.skip(skip || 'the timm-hybrid fixture set (fastvit_mci_tiny, fastvit_mci_reparam_tiny, vitamin_tiny) is not in OPENCLIP_TIMM_FIXTURES_DIR');
    return;
  }
  await initEngine({ backend: 'cpu' });
  registerTimmModel(plain.timm.name, plain.timm);
  registerTimmModel(vitamin.timm.name, vitamin.timm);
  const before = tf.memory().numTensors;
  const { model } = await createModelFromPretrained(readModelConfigFile(plain.config), fused.weights);
  const clip = model as CLIP;
  const names = [...clip.params.keys()];
  assert.ok(names.includes('visual.trunk.stem.0.reparam_conv.weight') && names.includes('visual.trunk.stages.3.pos_emb.reparam_conv.bias'), 'inference_mode structure');
  assert.ok(!names.some((n) => n.includes('conv_kxk') || n.includes('large_conv') || n.includes('token_mixer.mixer')), 'no train-time branches');
  const ref = readAll(fused.outputs);
  const px = ref.get('inputs.pixels')!;
  const images = tf.tensor4d(asFloat(px), px.shape as [number, number, number, number]);
  const f = clip.encodeImage(images);
  const r = compare(f.dataSync() as Float32Array, asFloat(ref.get('image_features')!), fused.tolerance.features_atol, fused.tolerance.features_rtol);
  assert.ok(r.ok, `image features max abs error ${r.maxAbs}`);
  t.diagnostic(`image features vs timm's re-parameterised model: max abs ${r.maxAbs.toExponential(2)}`);
  tf.dispose([images, f]);
  model.dispose();
  assert.equal(tf.memory().numTensors, before, 'leaked tensors');
  await assert.rejects(createModelFromPretrained(readModelConfigFile(vitamin.config), fused.weights),
    new RegExp(`re-parameterised \\(reparam_conv\\) weights need a timm FastViT trunk; ${vitamin.timm.name} is a timm vitamin model`));
});
