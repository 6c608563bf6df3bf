// OpenCLIP command lines as pasted: OpenCLIP's epoch_K.pt files written and resumed, --save-frequency 0,
// evaluation-only runs without --train-data (results.jsonl), the precision default.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint, loadTorchTrainerCheckpoint } from '@openclip/train';
import { toFloat32 } from '@openclip/engine';
import { openclip, tempDir, tinyModelConfig, shortRun } from '../test-support/openclip-cli.js';

const synthetic = ['train', '--dataset-type', 'synthetic', '--train-num-samples', '64'];

test('--save-format both writes epoch_K.pt; --resume epoch_K.pt continues to the same weights as an uninterrupted run', () => {
  const dir = tempDir('pt-resume');
  const model = tinyModelConfig(dir);
  const logs = join(dir, 'logs');
  const a = openclip([...synthetic, '--epochs', '3', '--save-format', 'both', ...shortRun(model, logs, 'straight')]);
  assert.equal(a.status, 0, a.stderr);
  const ckA = join(logs, 'straight', 'checkpoints');
  for (const k of [1, 2, 3]) for (const ext of ['.pt', '.safetensors', '.state.safetensors']) assert.ok(existsSync(join(ckA, `epoch_${k}${ext}`)), `epoch_${k}${ext}`);
  const pt = loadTorchTrainerCheckpoint(join(ckA, 'epoch_3.pt'));
  const pair = loadCheckpoint(join(ckA, 'epoch_3.safetensors'));
  assert.equal(pt.epoch, 3);
  for (const [k, t] of pair.model) assert.deepEqual(Array.from(toFloat32(pt.model.get(k) as never)), Array.from(toFloat32(t)), k);

  const b = openclip([...synthetic, '--epochs', '3', '--save-format', 'pt', ...shortRun(model, logs, 'from-pt'), '--resume', join(ckA, 'epoch_1.pt')]);
  assert.equal(b.status, 0, b.stderr);
  assert.match(b.stdout, /resuming checkpoint .*epoch_1\.pt' \(epoch 1\)/);
  const ckB = join(logs, 'from-pt', 'checkpoints');
  assert.deepEqual(readdirSync(ckB).filter((f) => f.startsWith('epoch_')).sort(), ['epoch_2.pt', 'epoch_3.pt']);
  const wb = loadTorchTrainerCheckpoint(join(ckB, 'epoch_3.pt'));
  let worst = 0;
  for (const [k, t] of pair.model) {
    const x = toFloat32(t);
    const y = toFloat32(wb.model.get(k) as never);
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  }
  assert.ok(worst < 1e-5, `max weight difference ${worst}`);
});

test('--resume latest in a folder of OpenCLIP epoch_K.pt files only (--save-format pt) continues from the newest', () => {
  const dir = tempDir('pt-latest');
  const model = tinyModelConfig(dir);
  const logs = join(dir, 'logs');
  const a = openclip([...synthetic, '--epochs', '1', '--save-format', 'pt', ...shortRun(model, logs, 'run')]);
  assert.equal(a.status, 0, a.stderr);
  const b = openclip([...synthetic, '--epochs', '2', '--save-format', 'pt', ...shortRun(model, logs, 'run'), '--resume', 'latest']);
  assert.equal(b.status, 0, b.stderr);
  assert.match(b.stdout, /resuming checkpoint .*epoch_1\.pt' \(epoch 1\)/);
  assert.deepEqual(readdirSync(join(logs, 'run', 'checkpoints')).filter((f) => f.startsWith('epoch_')).sort(), ['epoch_1.pt', 'epoch_2.pt']);
});

test('--save-frequency 0 saves only the final epoch, as OpenCLIP', () => {
  const dir = tempDir('save0');
  const model = tinyModelConfig(dir);
  const r = openclip([...synthetic, '--epochs', '2', '--save-frequency', '0', ...shortRun(model, join(dir, 'logs'), 's0')]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readdirSync(join(dir, 'logs', 's0', 'checkpoints')).filter((f) => f.startsWith('epoch_')).sort(), ['epoch_2.safetensors', 'epoch_2.state.safetensors']);
});

test('without --train-data and without --precision: evaluation only, metrics in results.jsonl, same numbers as openclip eval', () => {
  const dir = tempDir('eval-only');
  const model = tinyModelConfig(dir);
  const logs = join(dir, 'logs');
  const trained = openclip([...synthetic, '--epochs', '1', ...shortRun(model, logs, 't')]);
  assert.equal(trained.status, 0, trained.stderr);
  const weights = join(logs, 't', 'checkpoints', 'epoch_1.safetensors');
  const folder = join(dir, 'zs');
  const made = openclip(['make-dataset', '--type', 'imagefolder', '--num-samples', '72', '--image-size', '32', '--seed', '5', '--out', folder]);
  assert.equal(made.status, 0, made.stderr);
  const r = openclip(['train', '--model', model, '--pretrained', weights, '--imagenet-val', folder, '--batch-size', '16', '--workers', '1', '--logs', logs, '--name', 'e']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /--precision not given: training in fp32/);
  assert.doesNotMatch(r.stdout, /Start epoch/);
  const lines = readFileSync(join(logs, 'e', 'checkpoints', 'results.jsonl'), 'utf8').trim().split('\n');
  assert.equal(lines.length, 1);
  const metrics = JSON.parse(lines[0]) as Record<string, number>;
  const ev = openclip(['eval', '--model', model, '--pretrained', weights, '--imagenet-val', folder, '--batch-size', '16', '--workers', '1', '--json']);
  assert.equal(ev.status, 0, ev.stderr);
  const expected = (JSON.parse(ev.stdout) as { metrics: Record<string, number> }).metrics;
  assert.ok(Object.keys(expected).length >= 2);
  for (const [k, v] of Object.entries(expected)) assert.equal(metrics[k], v, k);
  // nothing to train and nothing to evaluate is still an error naming both ways out
  const none = openclip(['train', '--model', model, '--logs', 'none']);
  assert.notEqual(none.status, 0);
  assert.match(none.stderr, /--train-data is required to train .*to only evaluate, give --val-data, --imagenet-val or --imagenet-v2/);
});
