import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  nearestKey, outputSize, parseAugmentationConfig, parsePreprocessConfig,
} from '../../src/image/preprocess-config.js';
import { OPENAI_DATASET_MEAN, OPENAI_DATASET_STD } from '@openclip/common';

test('parsePreprocessConfig fills OpenCLIP PreprocessCfg defaults', () => {
  const cfg = parsePreprocessConfig({});
  assert.deepEqual(cfg, {
    image_size: 224, mean: [...OPENAI_DATASET_MEAN], std: [...OPENAI_DATASET_STD],
    interpolation: 'bicubic', resize_mode: 'shortest', fill_color: 0,
  });
  assert.deepEqual(outputSize(cfg), [224, 224]);
});

test('parsePreprocessConfig accepts size alias, [h, w], scalar mean/std, nulls as defaults', () => {
  const cfg = parsePreprocessConfig({ size: [48, 64], mean: 0.5, std: [0.5], interpolation: 'bilinear', resize_mode: null, mode: 'RGB' });
  assert.deepEqual(cfg.image_size, [48, 64]);
  assert.deepEqual(outputSize(cfg), [48, 64]);
  assert.deepEqual(cfg.mean, [0.5, 0.5, 0.5]);
  assert.deepEqual(cfg.std, [0.5, 0.5, 0.5]);
  assert.equal(cfg.interpolation, 'bilinear');
  assert.equal(cfg.resize_mode, 'shortest');
  assert.equal(parsePreprocessConfig({ image_size: [96] }).image_size, 96);
});

test('parsePreprocessConfig rejects unknown keys naming the nearest valid one', () => {
  assert.throws(() => parsePreprocessConfig({ resize_mod: 'longest' }), /unknown preprocess config key "resize_mod" \(did you mean "resize_mode"\?\)/);
  assert.throws(() => parsePreprocessConfig({ fill_colour: 3 }), /did you mean "fill_color"/);
  assert.throws(() => parsePreprocessConfig({ imagesize: 3 }), /did you mean "image_size"/);
});

test('parsePreprocessConfig rejects bad values with the key name', () => {
  assert.throws(() => parsePreprocessConfig({ image_size: 0 }), /"image_size" must be a positive integer/);
  assert.throws(() => parsePreprocessConfig({ image_size: [1, 2, 3] }), /"image_size"/);
  assert.throws(() => parsePreprocessConfig({ mean: [1, 2] }), /"mean"/);
  assert.throws(() => parsePreprocessConfig({ std: [1, 0, 1] }), /"std" must be positive/);
  assert.throws(() => parsePreprocessConfig({ interpolation: 'lanczos' }), /"interpolation"/);
  assert.throws(() => parsePreprocessConfig({ resize_mode: 'crop' }), /"resize_mode"/);
  assert.throws(() => parsePreprocessConfig({ fill_color: 256 }), /"fill_color"/);
  assert.throws(() => parsePreprocessConfig({ mode: 'L' }), /"mode" must be "RGB"/);
  assert.throws(() => parsePreprocessConfig({ size: 3, image_size: 3 }), /both "image_size" and its alias "size"/);
  assert.throws(() => parsePreprocessConfig([]), /must be an object/);
});

test('parseAugmentationConfig: OpenCLIP AugmentationCfg defaults and validation', () => {
  const aug = parseAugmentationConfig({});
  assert.deepEqual(aug.scale, [0.9, 1.0]);
  assert.equal(aug.ratio, null);
  assert.equal(aug.use_timm, false);
  const custom = parseAugmentationConfig({ scale: [0.5, 1], color_jitter: [0.4, 0.4, 0.4, 0.1], color_jitter_prob: 0.8, gray_scale_prob: 0.2 });
  assert.deepEqual(custom.scale, [0.5, 1]);
  assert.equal(custom.color_jitter_prob, 0.8);
  assert.throws(() => parseAugmentationConfig({ scal: [0.5, 1] }), /did you mean "scale"/);
  assert.throws(() => parseAugmentationConfig({ grey_scale_prob: 0.1 }), /did you mean "gray_scale_prob"/);
  assert.throws(() => parseAugmentationConfig({ scale: [1, 0.5] }), /"scale"/);
  assert.throws(() => parseAugmentationConfig({ scale: [0.5, 1.5] }), /"scale" upper bound/);
  assert.throws(() => parseAugmentationConfig({ color_jitter_prob: 2 }), /"color_jitter_prob" must be a probability/);
  assert.throws(() => parseAugmentationConfig({ color_jitter: [1, 2] }), /"color_jitter"/);
});

test('nearestKey picks the closest name by edit distance', () => {
  assert.equal(nearestKey('men', ['mean', 'std', 'fill_color']), 'mean');
  assert.equal(nearestKey('STD', ['mean', 'std']), 'std');
});
