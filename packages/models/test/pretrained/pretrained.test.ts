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
} from '../../src/pretrained/pretrained.js';
import { getModelConfig, hasModelConfig } from '../../src/config/registry.js';
import { externalTowerReason } from '../../src/config/model-config.js';

test('the registry lists every family of OpenCLIP 3.1.0, with a quickgelu alias for each QuickGELU tag', () => {
  const pairs = listPretrained();
  assert.equal(new Set(pairs.map(([m, t]) => `${m}:${t}`)).size, pairs.length, 'pairs are unique');
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

test('the registry has the shape of OpenCLIP 3.1.0: 192 pairs, 28 QuickGELU aliases, per-org hub counts', () => {
  // Independent facts of the 3.1.0 release (shared/notes/openclip-inventory.md §1(d)), compared with counts taken from the table.
  const pairs = listPretrained();
  assert.equal(pairs.length, 192);
  const aliasPairs = pairs.filter(([m]) => m.endsWith('-quickgelu'));
  assert.equal(aliasPairs.length, 28, 'one alias pair per quick_gelu tag');
  assert.equal(pairs.filter(([m, t]) => !m.endsWith('-quickgelu') && getPretrainedCfg(m, t)!.quick_gelu).length, aliasPairs.length);
  assert.equal(new Set(pairs.map(([m]) => m)).size, 111, 'model names, aliases included');
  const orgs: Record<string, number> = {};
  for (const [m, t] of pairs) {
    const org = getPretrainedCfg(m, t)!.hf_hub_id.split('/')[0];
    orgs[org] = (orgs[org] ?? 0) + 1;
  }
  assert.deepEqual(orgs, { timm: 97, laion: 54, jienengchen: 15, apple: 13, 'UCSC-VLAA': 7, visheratin: 6 });
  // tower families of the 192 pairs (inventory: 96 native + 4 native CoCa, 14 HF tokenizer only, 73 timm, 5 HF text)
  const fam: Record<string, number> = {};
  for (const r of listPretrainedInfo()) fam[r.architecture] = (fam[r.architecture] ?? 0) + 1;
  assert.deepEqual([fam.native, fam['native+hf-tokenizer'], fam.timm + fam['timm+hf-text'], fam['hf-text']], [100, 14, 73, 5]);
});

test('MetaCLIP 2 pairs follow 3.1.0: five worldwide models after PE-Core, QuickGELU only for 224 px L and H, 378 px squashed', () => {
  const pairs = listPretrained(true);
  const mc2 = pairs.filter((p) => p.endsWith(':metaclip2_worldwide'));
  assert.deepEqual(mc2, [
    'ViT-L-14-worldwide:metaclip2_worldwide',
    'ViT-H-14-worldwide:metaclip2_worldwide',
    'ViT-H-14-worldwide-378:metaclip2_worldwide',
    'ViT-bigG-14-worldwide:metaclip2_worldwide',
    'ViT-bigG-14-worldwide-378:metaclip2_worldwide',
    'ViT-L-14-worldwide-quickgelu:metaclip2_worldwide',
    'ViT-H-14-worldwide-quickgelu:metaclip2_worldwide',
  ]);
  // the base block sits right after PE-Core, i.e. last before the quickgelu aliases
  assert.equal(pairs.indexOf('ViT-L-14-worldwide:metaclip2_worldwide'), pairs.indexOf('PE-Core-bigG-14-448:meta') + 1);
  assert.equal(pairs.indexOf('RN50-quickgelu:openai'), pairs.indexOf('ViT-bigG-14-worldwide-378:metaclip2_worldwide') + 1);
  const cfg = (m: string) => {
    const c = getPretrainedCfg(m, 'metaclip2_worldwide')!;
    return [c.hf_hub_id, c.quick_gelu ?? false, c.resize_mode, c.interpolation, c.mean[0]];
  };
  assert.deepEqual(cfg('ViT-L-14-worldwide'), ['timm/vit_large_patch14_clip_224.metaclip2_worldwide', true, 'shortest', 'bicubic', 0.48145466]);
  assert.deepEqual(cfg('ViT-H-14-worldwide'), ['timm/vit_huge_patch14_clip_224.metaclip2_worldwide', true, 'shortest', 'bicubic', 0.48145466]);
  assert.deepEqual(cfg('ViT-H-14-worldwide-378'), ['timm/vit_huge_patch14_clip_378.metaclip2_worldwide', false, 'squash', 'bicubic', 0.48145466]);
  assert.deepEqual(cfg('ViT-bigG-14-worldwide'), ['timm/vit_gigantic_patch14_clip_224.metaclip2_worldwide', false, 'shortest', 'bicubic', 0.48145466]);
  assert.deepEqual(cfg('ViT-bigG-14-worldwide-378'), ['timm/vit_gigantic_patch14_clip_378.metaclip2_worldwide', false, 'squash', 'bicubic', 0.48145466]);
  for (const m of ['ViT-L-14-worldwide', 'ViT-H-14-worldwide-378', 'ViT-bigG-14-worldwide', 'ViT-bigG-14-worldwide-378']) {
    const info = listPretrainedInfo({ model: m })[0];
    assert.equal(info.architecture, 'native+hf-tokenizer', m);
    assert.equal(info.runnable, true, `${m}: native towers with a built-in config`);
  }
});

test("3.1.0's own hub-id reuse is kept: B-16-plus-240 e32 -> e31 repo, SO400M-14-SigLIP-378 -> the 384 repo", () => {
  assert.equal(getPretrainedCfg('ViT-B-16-plus-240', 'laion400m_e32')!.hf_hub_id, 'timm/vit_base_patch16_plus_clip_240.laion400m_e31');
  assert.equal(getPretrainedCfg('ViT-SO400M-14-SigLIP-378', 'webli')!.hf_hub_id, 'timm/ViT-SO400M-14-SigLIP-384');
  assert.equal(getPretrainedCfg('ViT-SO400M-14-SigLIP2-378', 'webli')!.hf_hub_id, 'timm/ViT-SO400M-14-SigLIP2-378');
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

test('every pair is listed with its tower family; runnable for native towers and built timm towers with a built-in config (HF tokenizers allowed)', () => {
  const rows = listPretrainedInfo();
  assert.equal(rows.length, listPretrained().length, 'nothing is omitted');
  for (const r of rows) {
    assert.match(r.hf_hub_id, /^[\w.-]+\/[\w.-]+$/);
    if (r.architecture === 'timm') {
      const built = hasModelConfig(r.model) && externalTowerReason(getModelConfig(r.model)) === null;
      assert.equal(r.runnable, built, `${r.model}: runnable must follow the timm towers built here`);
      if (!built) assert.ok(r.needs);
    } else if (r.architecture !== 'native' && r.architecture !== 'native+hf-tokenizer') {
      assert.equal(r.runnable, false, `${r.model} needs ${r.needs}`);
      assert.ok(r.needs);
    } else {
      assert.equal(r.runnable, hasModelConfig(r.model), `${r.model}: runnable must follow the built-in config registry`);
    }
  }
  const by = (m: string) => rows.find((r) => r.model === m)!;
  assert.equal(by('ViT-SO400M-14-SigLIP').architecture, 'timm');
  for (const m of ['ViT-B-16-SigLIP', 'ViT-B-16-SigLIP2', 'ViT-SO400M-14-SigLIP', 'ViT-B-32-SigLIP2-256', 'ViT-gopt-16-SigLIP2-384', 'ViT-SO400M-16-SigLIP-i18n-256']) {
    assert.equal(by(m).runnable, true, `${m} runs here`);
  }
  assert.equal(by('nllb-clip-base-siglip').runnable, false, 'the NLLB text tower is a Hugging Face model');
  for (const m of ['ViTamin-S', 'ViTamin-S-LTT', 'ViTamin-L2-384', 'ViTamin-XL-384', 'MobileCLIP-S1', 'MobileCLIP-S2', 'MobileCLIP-B']) {
    assert.equal(by(m).runnable, true, `${m}: timm hybrid towers run here`);
  }
  assert.equal(by('EVA02-B-16').architecture, 'timm');
  assert.equal(by('roberta-ViT-B-32').architecture, 'hf-text');
  assert.equal(by('nllb-clip-base-siglip').architecture, 'timm+hf-text');
  assert.equal(by('ViT-L-14-CLIPA').architecture, 'native+hf-tokenizer');
  for (const m of ['RN50', 'RN101-quickgelu', 'ViT-B-32', 'ViT-L-14-336', 'ViT-bigG-14', 'coca_ViT-B-32']) assert.equal(by(m).architecture, 'native', m);
  assert.deepEqual(listPretrainedInfo({ model: 'RN101' }).map((r) => r.tag), ['openai', 'yfcc15m']);
});
