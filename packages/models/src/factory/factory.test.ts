import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine, tf, SafetensorsFile } from '@openclip/engine';
import { referenceDir } from '@openclip/test-config';
import { asFloat, compare, modelCase, modelCasesSkip, readAll } from '../model/fixtures.test-helper.js';
import { CoCa } from '../coca/coca.js';
import { createModelAndTransforms, createModelFromPretrained, getTokenizer, mergePreprocessConfig } from './factory.js';

// The factory wired end to end on the fixtures: config file + checkpoint path → model with the
// fixture weights, transforms whose outputs reproduce the fixture pixels and features.

test('createModelAndTransforms: config file + checkpoint path reproduce the fixture features from the image files', { skip: modelCasesSkip('vit_tiny') }, async () => {
  await initEngine({ backend: 'cpu' });
  const c = modelCase('vit_tiny');
  const { model, preprocessVal, preprocessTrain, preprocessCfg, checkpoint } = await createModelAndTransforms(c.config, { pretrained: c.weights });
  assert.equal(checkpoint, c.weights);
  assert.equal(preprocessCfg.image_size, 64);
  assert.deepEqual(preprocessVal.outputShape, [3, 64, 64]);
  assert.equal(preprocessTrain.isTrain, true);
  const want = readAll(c.weights).get('visual.conv1.weight')!;
  assert.deepEqual(Array.from(model.params.get('visual.conv1.weight')!.dataSync()), Array.from(asFloat(want)));
  // PNG inputs decode exactly, so the val transform gives the fixture's pixels and features.
  const pp = SafetensorsFile.open(join(referenceDir(), 'preprocess', 'preprocess.safetensors'));
  const ref = readAll(c.outputs);
  const featsWant = asFloat(ref.get('image_features')!);
  try {
    for (const [i, key] of c.imageKeys.entries()) {
      if (!key.includes('.png')) continue;
      const file = key.split('/')[0]!;
      const px = await preprocessVal(new Uint8Array(readFileSync(join(referenceDir(), 'images', file))), { source: file });
      const r = compare(px.data, pp.readFloat32(key).data, 1 / 255 / 0.26);
      assert.ok(r.ok, `${file}: pixels differ by ${r.maxAbs}`);
      const f = tf.tidy(() => model.encodeImage(tf.tensor4d(px.data, [1, 3, 64, 64])));
      const rf = compare(f.dataSync(), featsWant.subarray(i * 32, (i + 1) * 32), 1e-4, 1e-4);
      f.dispose();
      assert.ok(rf.ok, `${file}: features differ by ${rf.maxAbs}`);
    }
  } finally {
    pp.close();
    model.dispose();
  }
});

test('createModelAndTransforms: forceImageSize resizes the position embedding on load; overrides reach the transforms', { skip: modelCasesSkip('vit_tiny') }, async () => {
  await initEngine({ backend: 'cpu' });
  const c = modelCase('vit_tiny');
  const { model, preprocessVal, preprocessCfg } = await createModelAndTransforms(c.config, {
    pretrained: c.weights, forceImageSize: 96, imageMean: [0.5, 0.5, 0.5], imageStd: [0.25, 0.25, 0.25], imageResizeMode: 'squash', imageInterpolation: 'bilinear',
  });
  try {
    assert.deepEqual(model.params.get('visual.positional_embedding')!.shape, [145, 64]);
    assert.deepEqual(preprocessVal.outputShape, [3, 96, 96]);
    assert.deepEqual(preprocessCfg.mean, [0.5, 0.5, 0.5]);
    assert.deepEqual(preprocessCfg.std, [0.25, 0.25, 0.25]);
    assert.equal(preprocessCfg.resize_mode, 'squash');
    assert.equal(preprocessCfg.interpolation, 'bilinear');
    // The class-token row is kept as is.
    const pe = model.params.get('visual.positional_embedding')!.dataSync();
    const ref = asFloat(readAll(c.weights).get('visual.positional_embedding')!);
    assert.deepEqual(Array.from(pe.subarray(0, 64)), Array.from(ref.subarray(0, 64)));
  } finally {
    model.dispose();
  }
});

test('createModelFromPretrained needs weights; a wrong checkpoint names the tensor; local-dir: reads open_clip_config.json', { skip: modelCasesSkip('vit_tiny', 'vit_variant_b') }, async () => {
  await initEngine({ backend: 'cpu' });
  const c = modelCase('vit_tiny');
  await assert.rejects(createModelFromPretrained(c.config, null), /needs pretrained weights/);
  const other = modelCase('vit_variant_b');
  await assert.rejects(createModelFromPretrained(c.config, other.weights), /visual\.|size mismatch|missing/);
  const dir = mkdtempSync(join(tmpdir(), 'openclip-localdir-'));
  try {
    const cfg = JSON.parse(readFileSync(c.config, 'utf8'));
    writeFileSync(join(dir, 'open_clip_config.json'), JSON.stringify({ model_cfg: cfg, preprocess_cfg: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } }));
    symlinkSync(c.weights, join(dir, 'open_clip_model.safetensors'));
    const { model, preprocessCfg, checkpoint } = await createModelFromPretrained(`local-dir:${dir}`, null);
    assert.equal(checkpoint, join(dir, 'open_clip_model.safetensors'));
    assert.deepEqual(preprocessCfg.mean, [0.5, 0.5, 0.5]);
    const want = asFloat(readAll(c.weights).get('token_embedding.weight')!);
    assert.ok(compare(model.params.get('token_embedding.weight')!.dataSync(), want, 0).ok);
    model.dispose();
    assert.equal(getTokenizer(`local-dir:${dir}`).contextLength, 77);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('createModelAndTransforms builds CoCa from its config with the fixture weights', { skip: modelCasesSkip('coca_tiny') }, async () => {
  await initEngine({ backend: 'cpu' });
  const c = modelCase('coca_tiny');
  const { model } = await createModelAndTransforms(c.config, { pretrained: c.weights });
  try {
    assert.ok(model instanceof CoCa);
    assert.equal(model.numParams(), 848017);
  } finally {
    model.dispose();
  }
});

test('getTokenizer follows the config: context length, tokenizer_kwargs, HF tokenizers through @openclip/tokenizer', { skip: modelCasesSkip('vit_tiny', 'coca_tiny') }, () => {
  assert.equal(getTokenizer(modelCase('vit_tiny').config).contextLength, 77);
  const coca = getTokenizer(modelCase('coca_tiny').config);
  assert.equal(coca.contextLength, 76);
  assert.equal(coca.tokenize(['a photo of a cat']).shape[1], 76);
  assert.equal(getTokenizer(modelCase('vit_tiny').config, { contextLength: 16 }).contextLength, 16);
  const base = JSON.parse(readFileSync(modelCase('vit_tiny').config, 'utf8'));
  const withKw = { ...base, text_cfg: { ...base.text_cfg, tokenizer_kwargs: { clean: 'whitespace' } } };
  // 'whitespace' cleaning keeps the case, so 'Hello' tokenizes differently from the default 'lower'.
  assert.notEqual(getTokenizer(withKw).tokenize(['Hello']).data[1], getTokenizer(base).tokenize(['Hello']).data[1]);
  assert.equal(getTokenizer(base).tokenize(['Hello']).data[1], getTokenizer(base).tokenize(['hello']).data[1]);
  assert.throws(() => getTokenizer({ ...base, text_cfg: { ...base.text_cfg, tokenizer_kwargs: { strip_sep_token: true } } }), /strip_sep_token/);
  assert.throws(() => getTokenizer({ ...base, text_cfg: { ...base.text_cfg, hf_tokenizer_name: 'no-such-org/no-such-tokenizer' } }, { cacheDir: tmpdir() }), /no-such-tokenizer/);
});

test('pretrained: an unknown tag lists the known ones; hf-hub: models load from the Hugging Face cache', { skip: modelCasesSkip('vit_tiny') }, async () => {
  await initEngine({ backend: 'cpu' });
  const c = modelCase('vit_tiny');
  await assert.rejects(createModelAndTransforms(c.config, { pretrained: 'no_such_tag' }), /no_such_tag/);
  const cache = mkdtempSync(join(tmpdir(), 'openclip-hfcache-'));
  const prev = process.env.HF_HUB_OFFLINE;
  process.env.HF_HUB_OFFLINE = '1';
  try {
    const repo = join(cache, 'models--someone--tiny-clip');
    const snap = join(repo, 'snapshots', '0123456789abcdef0123456789abcdef01234567');
    mkdirSync(snap, { recursive: true });
    mkdirSync(join(repo, 'refs'));
    writeFileSync(join(repo, 'refs', 'main'), '0123456789abcdef0123456789abcdef01234567');
    const cfg = JSON.parse(readFileSync(c.config, 'utf8'));
    writeFileSync(join(snap, 'open_clip_config.json'), JSON.stringify({ model_cfg: cfg, preprocess_cfg: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], resize_mode: 'squash' } }));
    symlinkSync(c.weights, join(snap, 'open_clip_model.safetensors'));
    const { model, preprocessCfg, checkpoint } = await createModelAndTransforms('hf-hub:someone/tiny-clip', { cacheDir: cache });
    assert.equal(checkpoint, join(snap, 'open_clip_model.safetensors'));
    assert.equal(preprocessCfg.resize_mode, 'squash');
    assert.deepEqual(preprocessCfg.std, [0.5, 0.5, 0.5]);
    assert.ok(compare(model.params.get('text_projection')!.dataSync(), asFloat(readAll(c.weights).get('text_projection')!), 0).ok);
    model.dispose();
    assert.equal(getTokenizer('hf-hub:someone/tiny-clip', { cacheDir: cache }).contextLength, 77);
    assert.throws(() => getTokenizer('hf-hub:someone/other', { cacheDir: cache }), /not in the Hugging Face cache/);
  } finally {
    if (prev === undefined) delete process.env.HF_HUB_OFFLINE;
    else process.env.HF_HUB_OFFLINE = prev;
    rmSync(cache, { recursive: true, force: true });
  }
});

test('mergePreprocessConfig: model preprocess_cfg, then the pretrained tag, then explicit overrides', { skip: modelCasesSkip('vit_tiny') }, async () => {
  const { resolveModelConfig } = await import('../model/create.js');
  const { config } = resolveModelConfig(modelCase('vit_tiny').config);
  config.preprocess_cfg = { mean: [0.1, 0.1, 0.1], resize_mode: 'longest' };
  const a = mergePreprocessConfig(config, {}, {});
  assert.deepEqual(a.mean, [0.1, 0.1, 0.1]);
  assert.equal(a.resize_mode, 'longest');
  const b = mergePreprocessConfig(config, { mean: [0.2, 0.2, 0.2] }, { imageResizeMode: 'squash' });
  assert.deepEqual(b.mean, [0.2, 0.2, 0.2]);
  assert.equal(b.resize_mode, 'squash');
  assert.equal(b.image_size, 64);
});
