import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { referenceDirOrNull, referenceManifest } from '@openclip/test-config';
import { ModelConfigError, externalTowerReason, modelConfigToJson, parseModelConfig } from '../../src/config/model-config.js';
import { addModelConfig, builtinConfigDir, getModelConfig, listModels, naturalKey, readModelConfigFile, UnknownModelError } from '../../src/config/registry.js';

const tiny = () => ({
  embed_dim: 8,
  vision_cfg: { image_size: 32, layers: 1, width: 16, head_width: 8, patch_size: 16 },
  text_cfg: { context_length: 8, vocab_size: 100, width: 8, heads: 2, layers: 1 },
});

test('parseModelConfig fills OpenCLIP 3.1.0 dataclass defaults', () => {
  const c = parseModelConfig(tiny());
  assert.equal(c.vision_cfg.mlp_ratio, 4);
  assert.equal(c.vision_cfg.pool_type, 'tok');
  assert.equal(c.vision_cfg.pos_embed_type, 'learnable');
  assert.equal(c.vision_cfg.attn_pooler_queries, 256);
  assert.equal(c.vision_cfg.ls_init_value, null);
  assert.equal(c.text_cfg.pool_type, 'argmax');
  assert.equal(c.text_cfg.eos_id, 2);
  assert.equal(c.text_cfg.proj_type, 'linear');
  assert.equal(c.quick_gelu, false);
  assert.equal(c.custom_text, false);
  assert.equal(c.init_logit_scale, Math.log(1 / 0.07));
  assert.equal(c.init_logit_bias, null);
  assert.equal(c.multimodal_cfg, null);
});

test('unknown keys are reported with the nearest valid key', () => {
  const raw = tiny() as Record<string, unknown>;
  (raw.vision_cfg as Record<string, unknown>).patch_sise = 16;
  assert.throws(() => parseModelConfig(raw, 'my.json'), (e: Error) => e instanceof ModelConfigError
    && /my\.json: vision_cfg: unknown key 'patch_sise'/.test(e.message) && /'patch_size'/.test(e.message));
  const top = { ...tiny(), quickgelu: true };
  assert.throws(() => parseModelConfig(top), /unknown key 'quickgelu'.*'quick_gelu'/);
  const txt = tiny() as Record<string, unknown>;
  (txt.text_cfg as Record<string, unknown>).pooltype = 'eos';
  assert.throws(() => parseModelConfig(txt), /text_cfg: unknown key 'pooltype'.*'pool_type'/);
});

test('ill-typed values and missing required keys are rejected by name', () => {
  const bad = tiny() as Record<string, unknown>;
  (bad.vision_cfg as Record<string, unknown>).pool_type = 'max';
  assert.throws(() => parseModelConfig(bad), /vision_cfg\.pool_type: expected one of "tok", "avg", "none", got "max"/);
  const bad2 = tiny() as Record<string, unknown>;
  (bad2.vision_cfg as Record<string, unknown>).layers = [1, 2, 3];
  assert.throws(() => parseModelConfig(bad2), /vision_cfg\.layers: expected an integer \(ViT\) or a list of 4 integers/);
  const { embed_dim: _drop, ...noEmbed } = tiny();
  assert.throws(() => parseModelConfig(noEmbed), /missing required key 'embed_dim'/);
  const bad3 = tiny() as Record<string, unknown>;
  (bad3.vision_cfg as Record<string, unknown>).patch_dropout = 1;
  assert.throws(() => parseModelConfig(bad3), /patch_dropout must be in \[0, 1\)/);
  const bad4 = tiny() as Record<string, unknown>;
  (bad4.text_cfg as Record<string, unknown>).norm_kwargs = { elementwise_affine: false };
  assert.throws(() => parseModelConfig(bad4), /norm_kwargs: unsupported key 'elementwise_affine'/);
});

test('modelConfigToJson round-trips through the parser', () => {
  for (const name of ['ViT-B-32', 'RN50x4-quickgelu', 'ViT-L-14-CLIPA', 'coca_ViT-B-32', 'ViT-M-16-alt']) {
    const c = getModelConfig(name);
    assert.deepEqual(parseModelConfig(modelConfigToJson(c)), c, name);
  }
});

test('every built-in config parses; the registry lists them in natural order', () => {
  const files = readdirSync(builtinConfigDir()).filter((f) => f.endsWith('.json'));
  const names = listModels();
  assert.ok(names.length >= files.length);
  for (const f of files) {
    const name = f.slice(0, -5);
    assert.ok(names.includes(name), name);
    const c = getModelConfig(name);
    assert.equal(externalTowerReason(c), null, `${name} must need no timm/HF tower`);
    assert.deepEqual(c, parseModelConfig(JSON.parse(readFileSync(join(builtinConfigDir(), f), 'utf8'))));
  }
  for (const family of ['RN50', 'RN101', 'RN50x4', 'RN50x16', 'RN50x64', 'ViT-B-32', 'ViT-B-16', 'ViT-L-14', 'ViT-H-14', 'ViT-bigG-14']) {
    assert.ok(names.includes(family), family);
  }
  for (const n of ['RN50-quickgelu', 'ViT-B-16-plus-240', 'ViT-H-14-378-quickgelu', 'coca_ViT-L-14', 'ViT-L-14-CLIPA-336']) assert.ok(names.includes(n), n);
  assert.ok(names.indexOf('RN50') < names.indexOf('RN101'), 'natural order puts RN50 before RN101');
  assert.deepEqual(naturalKey('ViT-B-16'), ['vit-b-', 16, '']);
  const rn = getModelConfig('RN50');
  assert.deepEqual(rn.vision_cfg.layers, [3, 4, 6, 3]);
  assert.equal(getModelConfig('ViT-B-32-quickgelu').quick_gelu, true);
  assert.equal(getModelConfig('coca_ViT-B-32').multimodal_cfg?.attn_pooler_heads, 8);
});

test('unknown model names list the nearest known names; timm/HF models say why', () => {
  assert.throws(() => getModelConfig('ViT-B-33'), (e: Error) => e instanceof UnknownModelError && /'ViT-B-32'/.test(e.message));
  assert.throws(() => getModelConfig('rn50'), (e: Error) => e instanceof UnknownModelError && /'RN50'/.test(e.message));
  assert.throws(() => getModelConfig('roberta-ViT-B-32'), /needs a timm\/HF tower/);
  const siglip = { ...tiny(), vision_cfg: { timm_model_name: 'vit_base_patch16_siglip_224', image_size: 224 } };
  assert.equal(externalTowerReason(parseModelConfig(siglip)), null, 'timm SigLIP towers are built here');
  const timm = { ...tiny(), vision_cfg: { timm_model_name: 'vit_base_patch16_siglip_225', image_size: 224 } };
  assert.match(externalTowerReason(parseModelConfig(timm)) ?? '', /unknown timm model 'vit_base_patch16_siglip_225'; supported timm towers: .*vit_base_patch16_siglip_224/);
  const hf = { ...tiny(), text_cfg: { hf_model_name: 'xlm-roberta-base' } };
  assert.match(externalTowerReason(parseModelConfig(hf)) ?? '', /needs a timm\/HF tower/);
});

test('addModelConfig registers a file or a folder; bad files are named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'openclip-cfg-'));
  writeFileSync(join(dir, 'my-tiny.json'), JSON.stringify(tiny()));
  writeFileSync(join(dir, 'my-tiny-2.json'), JSON.stringify({ ...tiny(), embed_dim: 16 }));
  assert.deepEqual(addModelConfig(join(dir, 'my-tiny.json')), ['my-tiny']);
  assert.equal(getModelConfig('my-tiny').embed_dim, 8);
  assert.deepEqual(addModelConfig(dir).sort(), ['my-tiny', 'my-tiny-2']);
  assert.equal(getModelConfig('my-tiny-2').embed_dim, 16);
  assert.ok(listModels().includes('my-tiny-2'));
  const bad = mkdtempSync(join(tmpdir(), 'openclip-cfg-'));
  writeFileSync(join(bad, 'broken.json'), '{"embed_dim": 8,');
  assert.throws(() => addModelConfig(join(bad, 'broken.json')), /broken\.json: not valid JSON/);
  writeFileSync(join(bad, 'typo.json'), JSON.stringify({ ...tiny(), text_cfg: { width: 8, head: 2 } }));
  assert.throws(() => addModelConfig(join(bad, 'typo.json')), /typo\.json: text_cfg: unknown key 'head'.*'heads'/);
  assert.throws(() => addModelConfig(join(bad, 'nope.json')), /no such model-config file/);
  // the Hugging Face Hub layout (open_clip_config.json) is unwrapped
  writeFileSync(join(dir, 'open_clip_config.json'), JSON.stringify({ model_cfg: tiny(), preprocess_cfg: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } }));
  const hub = readModelConfigFile(join(dir, 'open_clip_config.json'));
  assert.equal(hub.embed_dim, 8);
  assert.deepEqual(hub.preprocess_cfg, { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
  writeFileSync(join(bad, 'hub-typo.json'), JSON.stringify({ model_cfg: tiny(), preproces_cfg: {} }));
  assert.throws(() => readModelConfigFile(join(bad, 'hub-typo.json')), /hub-typo\.json: unknown key 'preproces_cfg' beside model_cfg/);
});

test('the reference fixture configs parse', { skip: referenceDirOrNull() ? false : 'reference fixtures not found (no manifest.json; set OPENCLIP_REFERENCE_DIR)' }, () => {
  // Every model case of the manifest names its config file.
  const configs = referenceManifest().cases.filter((c: { config?: string }) => typeof c.config === 'string').map((c: { config: string }) => c.config);
  assert.ok(configs.length > 0, 'the manifest has model cases');
  for (const file of configs) {
    const c = readModelConfigFile(join(referenceDirOrNull()!, file));
    assert.ok(c.embed_dim > 0, file);
  }
});
