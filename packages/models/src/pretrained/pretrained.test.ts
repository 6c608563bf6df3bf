import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cleanTag,
  getPretrainedCfg,
  isPretrainedCfg,
  listPretrained,
  listPretrainedInfo,
  listPretrainedModelsByTag,
  listPretrainedTagsByModel,
  splitHfHub,
} from './pretrained.js';
import { hasModelConfig } from '../config/registry.js';

test('the registry lists every family of OpenCLIP 3.1.0, with a quickgelu alias for each QuickGELU tag', () => {
  const pairs = listPretrained();
  assert.equal(new Set(pairs.map(([m, t]) => `${m}:${t}`)).size, pairs.length, 'pairs are unique');
  assert.ok(pairs.length >= 190, `${pairs.length} pairs`);
  const models = new Set(pairs.map(([m]) => m));
  for (const m of ['RN50', 'RN50x64', 'ViT-B-32', 'ViT-bigG-14', 'coca_ViT-L-14', 'EVA02-E-14-plus', 'ViT-SO400M-14-SigLIP-384', 'ViT-gopt-16-SigLIP2-384', 'ViT-H-14-CLIPA-336', 'MobileCLIP-B', 'ViTamin-XL-384', 'PE-Core-bigG-14-448', 'nllb-clip-large-siglip', 'convnext_xxlarge', 'xlm-roberta-large-ViT-H-14']) {
    assert.ok(models.has(m), `missing ${m}`);
  }
  // every quick_gelu tag is duplicated under <model>-quickgelu with the same config, and only those
  for (const [m, t] of pairs) {
    const cfg = getPretrainedCfg(m, t)!;
    if (m.endsWith('-quickgelu')) {
      assert.equal(cfg.quick_gelu, true, `${m}:${t}`);
      assert.deepEqual(getPretrainedCfg(m.slice(0, -'-quickgelu'.length), t), cfg);
    } else if (cfg.quick_gelu) {
      assert.ok(isPretrainedCfg(`${m}-quickgelu`, t), `${m}-quickgelu:${t} alias missing`);
    }
  }
  assert.deepEqual(listPretrainedTagsByModel('RN50-quickgelu'), ['openai', 'yfcc15m', 'cc12m']);
  assert.deepEqual(listPretrained(true).slice(0, 2), ['RN50:openai', 'RN50:yfcc15m']);
});

test("tags are normalised as OpenCLIP's _clean_tag (lower case, '-' -> '_')", () => {
  assert.equal(cleanTag('LAION2B-s34B-b79K'), 'laion2b_s34b_b79k');
  assert.ok(isPretrainedCfg('ViT-B-32', 'LAION2B-s34B-b79K'));
  assert.ok(!isPretrainedCfg('vit-b-32', 'laion2b_s34b_b79k'), 'model names are exact');
  assert.equal(getPretrainedCfg('ViT-B-32', 'Laion2b-S34b-B79k')?.hf_hub_id, 'laion/CLIP-ViT-B-32-laion2B-s34B-b79K');
  assert.equal(getPretrainedCfg('ViT-B-32', 'nope'), undefined);
  assert.deepEqual(listPretrainedModelsByTag('DFN5B'), ['ViT-H-14', 'ViT-H-14-378', 'ViT-H-14-quickgelu', 'ViT-H-14-378-quickgelu']);
});

test('pretrained configs carry hub id, file, preprocessing and QuickGELU as OpenCLIP defines them', () => {
  const openai = getPretrainedCfg('ViT-B-16', 'openai')!;
  assert.equal(openai.hf_hub_id, 'timm/vit_base_patch16_clip_224.openai');
  assert.equal(openai.hf_filename, undefined);
  assert.equal(openai.quick_gelu, true);
  assert.deepEqual([openai.mean, openai.std, openai.interpolation, openai.resize_mode], [[0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711], 'bicubic', 'shortest']);
  const l14 = getPretrainedCfg('ViT-L-14', 'laion2b_s32b_b82k')!;
  assert.deepEqual([l14.mean, l14.std], [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]);
  const dfn = getPretrainedCfg('ViT-H-14-378-quickgelu', 'dfn5b')!;
  assert.deepEqual([dfn.hf_hub_id, dfn.resize_mode, dfn.quick_gelu], ['apple/DFN5B-CLIP-ViT-H-14-378', 'squash', true]);
  const siglip = getPretrainedCfg('ViT-B-16-SigLIP', 'webli')!;
  assert.deepEqual([siglip.mean, siglip.interpolation, siglip.resize_mode], [[0.5, 0.5, 0.5], 'bicubic', 'squash']);
  const clipa = getPretrainedCfg('ViT-L-14-CLIPA', 'datacomp1b')!;
  assert.deepEqual([clipa.mean, clipa.interpolation, clipa.resize_mode], [[0.485, 0.456, 0.406], 'bilinear', 'squash']);
  const mobile = getPretrainedCfg('MobileCLIP-S1', 'datacompdr')!;
  assert.deepEqual([mobile.mean, mobile.std, mobile.interpolation], [[0, 0, 0], [1, 1, 1], 'bilinear']);
  const vitamin = getPretrainedCfg('ViTamin-L-256', 'datacomp1b')!;
  assert.deepEqual([vitamin.hf_hub_id, vitamin.hf_filename], ['jienengchen/ViTamin-L-256px', 'pytorch_model.bin']);
  assert.deepEqual(splitHfHub('laion/CoCa-ViT-B-32-laion2B-s13B-b90k/'), { repoId: 'laion/CoCa-ViT-B-32-laion2B-s13B-b90k', filename: undefined });
});

test('every pair is listed with its tower family; runnable only for native towers with a built-in config (HF tokenizers allowed)', () => {
  const rows = listPretrainedInfo();
  assert.equal(rows.length, listPretrained().length, 'nothing is omitted');
  for (const r of rows) {
    assert.match(r.hf_hub_id, /^[\w.-]+\/[\w.-]+$/);
    if (r.architecture !== 'native' && r.architecture !== 'native+hf-tokenizer') {
      assert.equal(r.runnable, false, `${r.model} needs ${r.needs}`);
      assert.ok(r.needs);
    } else {
      assert.equal(r.runnable, hasModelConfig(r.model), `${r.model}: runnable must follow the built-in config registry`);
    }
  }
  const by = (m: string) => rows.find((r) => r.model === m)!;
  assert.equal(by('ViT-SO400M-14-SigLIP').architecture, 'timm');
  assert.equal(by('EVA02-B-16').architecture, 'timm');
  assert.equal(by('roberta-ViT-B-32').architecture, 'hf-text');
  assert.equal(by('nllb-clip-base-siglip').architecture, 'timm+hf-text');
  assert.equal(by('ViT-L-14-CLIPA').architecture, 'native+hf-tokenizer');
  for (const m of ['RN50', 'RN101-quickgelu', 'ViT-B-32', 'ViT-L-14-336', 'ViT-bigG-14', 'coca_ViT-B-32']) assert.equal(by(m).architecture, 'native', m);
  assert.deepEqual(listPretrainedInfo({ model: 'RN101' }).map((r) => r.tag), ['openai', 'yfcc15m']);
});
