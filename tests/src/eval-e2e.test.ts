// openclip eval on the image folder a training run evaluated on reports the same zero-shot
// accuracy as the training log; --siglip trains with a logit bias starting at -10.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint } from '@openclip/train';
import { toFloat32 } from '@openclip/engine';
import { openclip, tempDir, tinyModelConfig, shortRun } from '../test-support/openclip-cli.js';

test('eval after training reproduces the zero-shot accuracy the training run logged', () => {
  const dir = tempDir('evaltrain');
  const model = tinyModelConfig(dir);
  assert.equal(openclip(['make-dataset', '--type', 'imagefolder', '--num-samples', '72', '--image-size', '32', '--seed', '4', '--out', join(dir, 'zs')]).status, 0);
  const r = openclip(['train', '--dataset-type', 'synthetic', '--train-num-samples', '64', '--epochs', '2', '--imagenet-val', join(dir, 'zs'), ...shortRun(model, join(dir, 'logs'), 'z')]);
  assert.equal(r.status, 0, r.stderr);
  const results = readFileSync(join(dir, 'logs', 'z', 'checkpoints', 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const last = results.at(-1);
  assert.ok('imagenet-zeroshot-val-top1' in last, JSON.stringify(last));
  const e = openclip(['eval', '--model', model, '--pretrained', join(dir, 'logs', 'z', 'checkpoints', 'epoch_2.safetensors'), '--imagenet-val', join(dir, 'zs'), '--workers', '1', '--json']);
  assert.equal(e.status, 0, e.stderr);
  const m = JSON.parse(e.stdout).metrics;
  assert.equal(m['imagenet-zeroshot-val-top1'], last['imagenet-zeroshot-val-top1']);
  assert.equal(m['imagenet-zeroshot-val-top5'], last['imagenet-zeroshot-val-top5']);
});

test('--siglip trains SigLipLoss from logit_scale log(10) and logit_bias -10', () => {
  const dir = tempDir('siglip');
  const r = openclip(['train', '--dataset-type', 'synthetic', '--train-num-samples', '32', '--epochs', '1', '--siglip', ...shortRun(tinyModelConfig(dir), join(dir, 'logs'), 's')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Logit Scale: (9|10)\.\d+ .*Contrastive_loss/);
  const ck = loadCheckpoint(join(dir, 'logs', 's', 'checkpoints', 'epoch_1.safetensors'));
  const bias = toFloat32(ck.model.get('logit_bias')!)[0];
  assert.ok(Math.abs(bias + 10) < 0.1, `logit_bias ${bias}`);
});
