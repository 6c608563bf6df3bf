import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDataLoader, getDatasetSize, syntheticSpec } from '@openclip/data';

const bin = fileURLToPath(new URL('../../../bin/run.js', import.meta.url));
function openclip(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  return { ...r, stderr: r.stderr.replace(/\s*\n\s*›\s*/g, ' ') };
}

test('make-dataset --type webdataset writes 00000.tar.. + sizes.json that the data loader reads', async () => {
  const out = mkdtempSync(join(tmpdir(), 'openclip-md-'));
  const r = openclip(['make-dataset', '--type', 'webdataset', '--num-samples', '7', '--shard-size', '3', '--image-size', '16', '--seed', '5', '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout);
  assert.equal(res.shards, 3);
  assert.deepEqual(readdirSync(out).sort(), ['00000.tar', '00001.tar', '00002.tar', 'sizes.json']);
  assert.deepEqual(res.trainFlags.slice(0, 2), ['--train-data', join(out, '{00000..00002}.tar')]);
  assert.equal(getDatasetSize(res.trainData).totalSize, 7);
  const loader = await createDataLoader({
    data: res.trainData, isTrain: false, batchSize: 7, workers: 0, numSamples: 7,
    transform: (bytes) => ({ data: new Float32Array([bytes.length, 0, 0]), shape: [3, 1, 1] }),
    tokenizer: (texts) => ({ data: new Int32Array(texts.map((t) => t.length)), shape: [texts.length, 1] }),
  });
  for await (const b of loader.epoch(0)) {
    assert.deepEqual([...b.labels!], Array.from({ length: 7 }, (_, i) => syntheticSpec(5, i).label));
    assert.deepEqual([...b.tokens!], Array.from({ length: 7 }, (_, i) => syntheticSpec(5, i).caption.length));
  }
});

test('make-dataset --type csv prints how to read it; bad flags fail with a message', () => {
  const out = mkdtempSync(join(tmpdir(), 'openclip-md-'));
  const r = openclip(['make-dataset', '--type', 'csv', '--num-samples', '4', '--image-size', '16', '--format', 'png', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /wrote 4 16x16 png images \(seed 0\) as a CSV/);
  assert.match(r.stdout, /--train-data \S*train\.csv --dataset-type csv/);
  const csv = readFileSync(join(out, 'train.csv'), 'utf8').trim().split('\n');
  assert.equal(csv.length, 5);
  assert.equal(csv[1], `images/000000.png\t${syntheticSpec(0, 0).caption}\t${syntheticSpec(0, 0).label}`);
  const small = openclip(['make-dataset', '--type', 'imagefolder', '--num-samples', '5', '--out', out]);
  assert.notEqual(small.status, 0);
  assert.match(small.stderr, /needs --num-samples >= 36/);
  const bad = openclip(['make-dataset', '--type', 'parquet', '--num-samples', '5', '--out', out]);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /Expected --type=parquet to be one of: csv, webdataset, imagefolder/);
});
