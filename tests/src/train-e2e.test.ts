// openclip train end to end on datasets made on the fly by `openclip make-dataset`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint } from '@openclip/train';
import { openclip, tempDir, tinyModelConfig, shortRun, lossesFromLog } from '../test-support/openclip-cli.js';

function checkRun(logs: string, name: string, epochs: number, stdout: string) {
  const dir = join(logs, name);
  for (const f of ['out.log', 'params.txt', 'curves.html']) assert.ok(existsSync(join(dir, f)), `${f} written`);
  for (let e = 1; e <= epochs; e++) {
    const ck = loadCheckpoint(join(dir, 'checkpoints', `epoch_${e}.safetensors`));
    assert.equal(ck.meta.epoch, e);
    assert.ok(ck.model.has('visual.proj') && ck.model.has('token_embedding.weight'));
    assert.ok(![...ck.model.keys()].some((k) => k.startsWith('optimizer')), 'the model file holds model tensors only');
  }
  const losses = lossesFromLog(stdout);
  assert.ok(losses.length >= 4, `logged losses: ${losses}`);
  const head = losses.slice(0, 2).reduce((a, b) => a + b) / 2;
  const tail = losses.slice(-2).reduce((a, b) => a + b) / 2;
  assert.ok(tail < head, `loss falls: first ${losses.slice(0, 2)} last ${losses.slice(-2)}`);
  assert.match(readFileSync(join(dir, 'params.txt'), 'utf8'), /^batch_size: 16$/m);
}

test('openclip train on a CSV dataset: loss falls, checkpoints and logs appear', () => {
  const dir = tempDir('csv');
  const made = openclip(['make-dataset', '--type', 'csv', '--num-samples', '96', '--image-size', '32', '--seed', '1', '--out', join(dir, 'data')]);
  assert.equal(made.status, 0, made.stderr);
  const csv = readdirSync(join(dir, 'data')).find((f) => f.endsWith('.csv'));
  assert.ok(csv, 'a CSV file was written');
  const r = openclip(['train', '--train-data', join(dir, 'data', csv!), '--csv-separator', readFileSync(join(dir, 'data', csv!), 'utf8').includes('\t') ? '\t' : ',', '--epochs', '2', ...shortRun(tinyModelConfig(dir), join(dir, 'logs'), 'csvrun')]);
  assert.equal(r.status, 0, r.stderr);
  checkRun(join(dir, 'logs'), 'csvrun', 2, r.stdout);
});

test('openclip train on webdataset shards', () => {
  const dir = tempDir('wds');
  const made = openclip(['make-dataset', '--type', 'webdataset', '--num-samples', '96', '--shard-size', '32', '--image-size', '32', '--seed', '2', '--out', join(dir, 'shards')]);
  assert.equal(made.status, 0, made.stderr);
  assert.ok(existsSync(join(dir, 'shards', '00002.tar')) && existsSync(join(dir, 'shards', 'sizes.json')));
  const r = openclip(['train', '--train-data', join(dir, 'shards', '{00000..00002}.tar'), '--dataset-type', 'webdataset', '--epochs', '2', ...shortRun(tinyModelConfig(dir), join(dir, 'logs'), 'wdsrun')]);
  assert.equal(r.status, 0, r.stderr);
  checkRun(join(dir, 'logs'), 'wdsrun', 2, r.stdout);
});

test('an existing run folder is refused unless resuming; bad flags stop at start', () => {
  const dir = tempDir('refuse');
  const args = ['train', '--dataset-type', 'synthetic', '--train-num-samples', '32', '--epochs', '1', ...shortRun(tinyModelConfig(dir), join(dir, 'logs'), 'once')];
  assert.equal(openclip(args).status, 0);
  const again = openclip(args);
  assert.notEqual(again.status, 0);
  assert.match(again.stderr, /Experiment already exists/);
  const bad = openclip(['train', '--dataset-type', 'synthetic', '--train-num-samples', '32', '--precision', 'amp', '--batch-size', 'x']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--batch-size: expected an integer, got 'x'/);
  assert.match(bad.stderr, /--precision amp is not available/);
});
