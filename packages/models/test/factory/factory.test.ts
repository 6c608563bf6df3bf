import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine, tf, SafetensorsFile } from '@openclip/engine';
import { referenceDir } from '@openclip/test-config';
import { asFloat, compare, isViT, modelCase, pickModelCase, readAll } from '../../test-support/reference-models.js';
import { CoCa } from '../../src/coca/coca.js';
import { createModelAndTransforms, createModelFromPretrained, getTokenizer, mergePreprocessConfig } from '../../src/factory/factory.js';

// The factory wired end to end on the fixtures: config file + checkpoint path → model with the
// fixture weights, transforms whose outputs reproduce the fixture pixels and features. Cases are
// chosen from the manifest by the kind of model a test needs; sizes come from their configs.

/** A ViT CLIP: its text tower at the top level (token_embedding.weight, text_projection). */
const VIT_CLIP = pickModelCase('a ViT image tower and the text tower at the top level (CLIP)', (c) => isViT(c) && c.modelClass === 'CLIP');
const COCA = pickModelCase('a CoCa model', (c) => c.modelClass === 'CoCa');

test('createModelAndTransforms: config file + checkpoint path reproduce the fixture features from the image files', { skip: VIT_CLIP.skip }, async () => {
  await initEngine({ backend: 'cpu' });
  const c = modelCase(VIT_CLIP.name);
  const S = c.cfg.vision_cfg.image_size;
  const E = c.cfg.embed_dim;
  const { model, preprocessVal, preprocessTrain, preprocessCfg, checkpoint } = await createModelAndTransforms(c.config, { pretrained: c.weights });
  assert.equal(checkpoint, c.weights);
  assert.equal(preprocessCfg.image_size, S);
  assert.deepEqual(preprocessVal.outputShape, [3, S, S]);
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
      const f = tf.tidy(() => model.encodeImage(tf.tensor4d(px.data, [1, 3, S, S])));
      const rf = compare(f.dataSync(), featsWant.subarray(i * E, (i + 1) * E), c.tolerance.features_atol, c.tolerance.features_rtol);
      f.dispose();
      assert.ok(rf.ok, `${file}: features differ by ${rf.maxAbs}`);
    }
  } finally {
    pp.close();
    model.dispose();
  }
});

test('createModelAndTransforms: forceImageSize resizes the position embedding on load; overrides reach the transforms', { skip: VIT_CLIP.skip }, async () => {
  await initEngine({ backend: 'cpu' });
  const c = modelCase(VIT_CLIP.name);
  // Four more patches per side than the config's grid.
  const P = c.cfg.vision_cfg.patch_size!;
  const W = c.cfg.vision_cfg.width;
  const size = c.cfg.vision_cfg.image_size + 4 * P;
  const { model, preprocessVal, preprocessCfg } = await createModelAndTransforms(c.config, {
    pretrained: c.weights, forceImageSize: size, imageMean: [0.5, 0.5, 0.5], imageStd: [0.25, 0.25, 0.25], imageResizeMode: 'squash', imageInterpolation: 'bilinear',
  });
  try {
    assert.deepEqual(model.params.get('visual.positional_embedding')!.shape, [(size / P) ** 2 + 1, W]);
    assert.deepEqual(preprocessVal.outputShape, [3, size, size]);
    assert.deepEqual(preprocessCfg.mean, [0.5, 0.5, 0.5]);
    assert.deepEqual(preprocessCfg.std, [0.25, 0.25, 0.25]);
    assert.equal(preprocessCfg.resize_mode, 'squash');
    assert.equal(preprocessCfg.interpolation, 'bilinear');
    // The class-token row is kept as is.
    const pe = model.params.get('visual.positional_embedding')!.dataSync();
    const ref = asFloat(readAll(c.weights).get('visual.positional_embedding')!);
    assert.deepEqual(Array.from(pe.subarray(0, W)), Array.from(ref.subarray(0, W)));
  } finally {
    model.dispose();
  }
});

// Another model's weights, which do not fit VIT_CLIP's model.
const OTHER = pickModelCase('weights of another shape', (c) => !VIT_CLIP.skip && c.weights !== modelCase(VIT_CLIP.name).weights);
test('createModelFromPretrained needs weights; a wrong checkpoint names the tensor; local-dir: reads open_clip_config.json', { skip: VIT_CLIP.skip || OTHER.skip }, async () => {
  await initEngine({ backend: 'cpu' });
  const c = modelCase(VIT_CLIP.name);
  await assert.rejects(createModelFromPretrained(c.config, null), /needs pretrained weights/);
  const other = modelCase(OTHER.name);
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
    assert.equal(getTokenizer(`local-dir:${dir}`).contextLength, c.cfg.text_cfg.context_length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('createModelAndTransforms builds CoCa from its config with the fixture weights', { skip: COCA.skip }, async () => {
  await initEngine({ backend: 'cpu' });
  const c = modelCase(COCA.name);
  const { model } = await createModelAndTransforms(c.config, { pretrained: c.weights });
  try {
    assert.ok(model instanceof CoCa);
    assert.equal(model.numParams(), c.nParams);
  } finally {
    model.dispose();
  }
});

test('getTokenizer follows the config: context length, tokenizer_kwargs, HF tokenizers through @openclip/tokenizer', { skip: VIT_CLIP.skip || COCA.skip }, () => {
  const c = modelCase(VIT_CLIP.name);
  assert.equal(getTokenizer(c.config).contextLength, c.cfg.text_cfg.context_length);
  const cocaCase = modelCase(COCA.name);
  const coca = getTokenizer(cocaCase.config);
  assert.equal(coca.contextLength, cocaCase.cfg.text_cfg.context_length);
  assert.equal(coca.tokenize(['a photo of a cat']).shape[1], cocaCase.cfg.text_cfg.context_length);
  assert.equal(getTokenizer(c.config, { contextLength: 16 }).contextLength, 16);
  const base = JSON.parse(readFileSync(c.config, 'utf8'));
  const withKw = { ...base, text_cfg: { ...base.text_cfg, tokenizer_kwargs: { clean: 'whitespace' } } };
  // 'whitespace' cleaning keeps the case, so 'Hello' tokenizes differently from the default 'lower'.
  assert.notEqual(getTokenizer(withKw).tokenize(['Hello']).data[1], getTokenizer(base).tokenize(['Hello']).data[1]);
  assert.equal(getTokenizer(base).tokenize(['Hello']).data[1], getTokenizer(base).tokenize(['hello']).data[1]);
  assert.throws(() => getTokenizer({ ...base, text_cfg: { ...base.text_cfg, tokenizer_kwargs: { strip_sep_token: true } } }), /strip_sep_token/);
  assert.throws(() => getTokenizer({ ...base, text_cfg: { ...base.text_cfg, hf_tokenizer_name: 'no-such-org/no-such-tokenizer' } }, { cacheDir: tmpdir() }), /no-such-tokenizer/);
});

test('pretrained: an unknown tag lists the known ones; hf-hub: models load from the Hugging Face cache', { skip: VIT_CLIP.skip }, async () => {
  await initEngine({ backend: 'cpu' });
  const c = modelCase(VIT_CLIP.name);
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
    assert.equal(getTokenizer('hf-hub:someone/tiny-clip', { cacheDir: cache }).contextLength, c.cfg.text_cfg.context_length);
    assert.throws(() => getTokenizer('hf-hub:someone/other', { cacheDir: cache }), /not in the Hugging Face cache/);
  } finally {
    if (prev === undefined) delete process.env.HF_HUB_OFFLINE;
    else process.env.HF_HUB_OFFLINE = prev;
    rmSync(cache, { recursive: true, force: true });
  }
});

test('mergePreprocessConfig: model preprocess_cfg, then the pretrained tag, then explicit overrides', { skip: VIT_CLIP.skip }, async () => {
  const { resolveModelConfig } = await import('../../src/model/create.js');
  const c = modelCase(VIT_CLIP.name);
  const { config } = resolveModelConfig(c.config);
  config.preprocess_cfg = { mean: [0.1, 0.1, 0.1], resize_mode: 'longest' };
  const a = mergePreprocessConfig(config, {}, {});
  assert.deepEqual(a.mean, [0.1, 0.1, 0.1]);
  assert.equal(a.resize_mode, 'longest');
  const b = mergePreprocessConfig(config, { mean: [0.2, 0.2, 0.2] }, { imageResizeMode: 'squash' });
  assert.deepEqual(b.mean, [0.2, 0.2, 0.2]);
  assert.equal(b.resize_mode, 'squash');
  assert.equal(b.image_size, c.cfg.vision_cfg.image_size);
});
