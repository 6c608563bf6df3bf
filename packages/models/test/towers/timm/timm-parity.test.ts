import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine } from '@openclip/engine';
import { readModelConfigFile } from '../../../src/config/registry.js';
import { createModel } from '../../../src/model/create.js';
import { readAll } from '../../../test-support/reference-models.js';
import { timmCases } from '../../../test-support/timm-fixtures.js';
import { buildTimmCase, timmParitySuite } from '../../../test-support/timm-parity.js';

// Parity of the timm towers on every fixture set (timm, timm-conv, timm-hybrid; see test-support/timm-fixtures.ts)
// with OpenCLIP 3.1.0 + timm 1.0.28 (checks in test-support/timm-parity.ts).

const { cases, skip } = timmCases();
timmParitySuite('timm tower', cases, skip);

test('a checkpoint missing a trunk key fails naming it; an unknown timm name lists the supported ones', { skip }, async () => {
  await initEngine({ backend: 'cpu' });
  const c = cases[0];
  const model = buildTimmCase(c);
  const weights = readAll(c.weights);
  const key = [...weights.keys()].find((k) => k.startsWith('visual.trunk.') && k.includes('blocks.'))!;
  weights.delete(key);
  assert.throws(() => model.loadStateDict(weights, { strict: true, source: c.weights }), (e: Error) => e.message.includes(key));
  model.dispose();
  const cfg = readModelConfigFile(c.config);
  cfg.vision_cfg.timm_model_name = 'vit_base_patch16_siglip_999';
  assert.throws(() => createModel(cfg), /unknown timm model 'vit_base_patch16_siglip_999'; supported timm towers: .*vit_base_patch16_siglip_224.*vit_pe_core_base_patch16_224/);
  cfg.vision_cfg.timm_model_name = c.timm.name;
  cfg.vision_cfg.timm_pool = 'rot_attn';
  assert.throws(() => createModel(cfg), /timm_pool 'rot_attn'.* is not supported/);
});
