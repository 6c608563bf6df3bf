import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTrainConfig, TrainConfigError } from '../../src/config/train-config.js';
import { remotePathProblems } from '../../src/config/remote-paths.js';

test('--resume s3://… is refused with the URL exactly as given and the copy to make', () => {
  assert.throws(
    () => parseTrainConfig({ precision: 'fp32', resume: 's3://bucket/run/epoch_1.pt' }),
    (e: TrainConfigError) => {
      assert.equal(e.problems.length, 1);
      assert.equal(e.message, '--resume s3://bucket/run/epoch_1.pt: remote checkpoints are not read directly; copy it first (aws s3 cp s3://bucket/run/epoch_1.pt ./epoch_1.pt) and pass ./epoch_1.pt');
      return true;
    },
  );
});

test('remote data, logs and sync targets name the URL and the workaround; http shards and local paths pass', () => {
  const p = remotePathProblems({ 'train-data': 'data/{0..3}.tar::s3://b/shards/{00000..00009}.tar::https://h/x.tar', logs: 's3://b/logs', 'remote-sync': 's3://b/sync', 'imagenet-val': 'gs://b/val' });
  assert.deepEqual(p, [
    "--train-data s3://b/shards/{00000..00009}.tar: s3:// shards are not opened directly; stream each shard through a pipe, e.g. --train-data 'pipe:aws s3 cp s3://b/shards/{00000..00009}.tar -'",
    '--logs s3://b/logs: the run folder must be local; use --logs ./logs and copy it afterwards (aws s3 sync ./logs s3://b/logs)',
    '--remote-sync s3://b/sync: openclip-ts does not sync while training; sync the run folder yourself (aws s3 sync ./logs/<name> s3://b/sync/<name>)',
    '--imagenet-val gs://b/val: must be a local folder; copy it first (gcloud storage cp gs://b/val ./data)',
  ]);
  assert.deepEqual(remotePathProblems({ resume: 'logs/x/checkpoints/epoch_2.pt', logs: './logs/', pretrained: 'file:///tmp/a.safetensors', 'val-data': 'https://h/{0..1}.tar' }), []);
  assert.throws(() => parseTrainConfig({ precision: 'fp32', 'remote-sync': 's3://b/sync' }), /--remote-sync s3:\/\/b\/sync: openclip-ts does not sync/);
});
