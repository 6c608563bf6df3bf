import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TRAIN_PARAMS } from '../../src/config/params.js';
import { parseTrainConfig, pythonFloatRepr, parseKwargs, defaultRunName, TrainConfigError } from '../../src/config/train-config.js';

const fp32 = { precision: 'fp32' };

test('the table has every OpenCLIP 3.1.0 flag once', () => {
  const upstream = TRAIN_PARAMS.filter((p) => !p.openclipTs);
  assert.equal(upstream.length, 90);
  assert.equal(new Set(TRAIN_PARAMS.map((p) => p.flag)).size, TRAIN_PARAMS.length);
  assert.equal(new Set(TRAIN_PARAMS.map((p) => p.key)).size, TRAIN_PARAMS.length);
  // every flag openclip-ts adds is marked, so it stays out of the OpenCLIP count above
  const added = TRAIN_PARAMS.filter((p) => p.openclipTs).map((p) => p.flag).sort();
  assert.deepEqual(added, ['max-skip-ratio', 'resume-start-over', 'save-every-n-steps', 'save-format']);
});

test('openclip-ts flags are checked at start', () => {
  assert.equal(parseTrainConfig(fp32).maxSkipRatio, 0.5);
  assert.throws(() => parseTrainConfig({ ...fp32, 'max-skip-ratio': '1.5' }), /--max-skip-ratio must be between 0 and 1, got 1\.5/);
  assert.throws(() => parseTrainConfig({ ...fp32, 'save-every-n-steps': '0' }), /--save-every-n-steps must be at least 1/);
  assert.throws(() => parseTrainConfig({ ...fp32, 'resume-start-over': true }), /--resume-start-over only applies to --resume latest/);
  assert.equal(parseTrainConfig({ ...fp32, resume: 'latest', 'resume-start-over': true }).resumeStartOver, true);
});

test('defaults are OpenCLIP params.py defaults', () => {
  const c = parseTrainConfig(fp32);
  assert.equal(c.batchSize, 64);
  assert.equal(c.epochs, 32);
  assert.equal(c.workers, 4);
  assert.equal(c.wd, 0.2);
  assert.equal(c.warmup, 10000);
  assert.equal(c.model, 'RN50');
  assert.equal(c.csvSeparator, '\t');
  assert.equal(c.csvImgKey, 'filepath');
  assert.equal(c.csvCaptionKey, 'title');
  assert.equal(c.lrScheduler, 'cosine');
  assert.equal(c.logs, './logs/');
  assert.equal(c.logEveryNSteps, 100);
  assert.equal(c.zeroshotFrequency, 2);
  assert.equal(c.cocaCaptionLossWeight, 2.0);
  assert.deepEqual(c.augCfg, {});
  // RN50 is not a ViT: non-ViT betas
  assert.deepEqual([c.lr, c.beta1, c.beta2, c.eps], [5e-4, 0.9, 0.999, 1e-8]);
});

test('ViT models get the ViT optimizer defaults; explicit values win', () => {
  const c = parseTrainConfig({ ...fp32, model: 'ViT-B-32' });
  assert.deepEqual([c.lr, c.beta1, c.beta2, c.eps], [5e-4, 0.9, 0.98, 1e-6]);
  const d = parseTrainConfig({ ...fp32, model: 'ViT-B-32', lr: '1e-5', 'beta2': 0.95 });
  assert.deepEqual([d.lr, d.beta2], [1e-5, 0.95]);
});

test('flag names, snake_case and camelCase keys are accepted and coerced', () => {
  const c = parseTrainConfig({ ...fp32, 'batch-size': '8', accum_freq: 2, datasetResampled: true, 'image-mean': ['0.5', '0.5', '0.5'], 'force-image-size': '96' });
  assert.equal(c.batchSize, 8);
  assert.equal(c.accumFreq, 2);
  assert.equal(c.datasetResampled, true);
  assert.deepEqual(c.imageMean, [0.5, 0.5, 0.5]);
  assert.deepEqual(c.forceImageSize, [96]);
});

test('every problem is reported at once, with names', () => {
  assert.throws(
    () => parseTrainConfig({ 'batch-sise': 3, epochs: 'x', 'lr-scheduler': 'step', precision: 'amp', 'train-data-upsampling-factors': '1::2', 'train-data': 'a.csv' }),
    (e: TrainConfigError) => {
      const m = e.message;
      assert.match(m, /unknown parameter 'batch-sise' \(did you mean --batch-size/);
      assert.match(m, /--epochs: expected an integer, got 'x'/);
      assert.match(m, /--lr-scheduler: 'step' is not one of cosine, const, const-cooldown/);
      assert.match(m, /--precision amp is not available .*pass --precision fp32/);
      assert.match(m, /only supported together with --dataset-resampled/);
      assert.match(m, /has 2 factors but --train-data has 1 sources/);
      assert.equal(e.problems.length, 6);
      return true;
    },
  );
});

test('flags that cannot work stop at start with the reason', () => {
  assert.throws(() => parseTrainConfig({ ...fp32, torchcompile: true }), /--torchcompile is a PyTorch compiler feature/);
  assert.throws(() => parseTrainConfig({ ...fp32, 'report-to': 'tensorboard,wandb' }), /wandb is not available/);
  assert.throws(() => parseTrainConfig({ ...fp32, opt: 'timm/lamb' }), /only adamw/);
  assert.throws(() => parseTrainConfig({ ...fp32, 'distill-model': 'ViT-B-32' }), /must be given together/);
  assert.throws(() => parseTrainConfig({ ...fp32, 'lr-scheduler': 'const-cooldown' }), /needs --epochs-cooldown/);
  assert.doesNotThrow(() => parseTrainConfig({ ...fp32, 'report-to': 'tensorboard' }));
});

test('run name follows OpenCLIP, with Python float formatting of the lr', () => {
  const now = new Date(2026, 10, 28, 9, 5, 7);
  assert.equal(defaultRunName({ model: 'hf-hub:org/m', lr: 1e-5, batchSize: 32, workers: 2, precision: 'fp32' }, now), '2026_11_28-09_05_07-model_hf-hub:org-m-lr_1e-05-b_32-j_2-p_fp32');
  assert.equal(parseTrainConfig({ ...fp32, name: 'run1' }).name, 'run1');
  assert.deepEqual(['0.0005', '1e-05', '1.5e-05', '0.001', '1.0', '1e+16', '0.0001'], [5e-4, 1e-5, 1.5e-5, 1e-3, 1, 1e16, 1e-4].map(pythonFloatRepr));
});

test('aug-cfg pairs are Python literals or strings', () => {
  assert.deepEqual(parseKwargs(['scale=(0.4, 1.0)', 'color_jitter=0.4', 'use_timm=False', 're_prob=None', "name='x'", 'mode=pixel']), {
    scale: [0.4, 1.0], color_jitter: 0.4, use_timm: false, re_prob: null, name: 'x', mode: 'pixel',
  });
  assert.throws(() => parseKwargs(['oops']), /expected key=value, got 'oops'/);
});
