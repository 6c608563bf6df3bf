import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTrainConfig } from '../src/config/train-config.js';
import { TRAIN_PARAMS } from '../src/config/params.js';
import { writeParams, derivedParams } from '../src/run-logger.js';

test('params.txt carries every flag and the keys main.py derives, sorted, with Python values', () => {
  const dir = mkdtempSync(join(tmpdir(), 'openclip-params-'));
  const cfg = parseTrainConfig({ precision: 'fp32', 'report-to': 'tensorboard', name: 'r' });
  writeParams(dir, cfg, derivedParams(cfg, { logDir: dir, rank: 0, worldSize: 1, localRank: 0, device: 'cpu' }));
  const lines = readFileSync(join(dir, 'params.txt'), 'utf8').trimEnd().split('\n');
  const keys = lines.map((l) => l.slice(0, l.indexOf(':')));
  assert.deepEqual(keys, [...keys].sort());
  const v = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
  for (const p of TRAIN_PARAMS) assert.ok(p.flag.replace(/-/g, '_') in v, p.flag);
  assert.equal(v.device, 'cpu');
  assert.equal(v.distributed, 'False');
  assert.equal(v.world_size, '1');
  assert.equal(v.rank, '0');
  assert.equal(v.local_rank, '0');
  assert.equal(v.log_level, '20');
  assert.equal(v.wandb, 'False');
  assert.equal(v.tensorboard, 'True');
  assert.equal(v.distill, 'False');
  assert.equal(v.log_path, join(dir, 'out.log'));
  assert.equal(v.checkpoint_path, join(dir, 'checkpoints'));
  assert.equal(v.tensorboard_path, join(dir, 'tensorboard'));
  // device is a flag whose value main.py replaces with the device used; the other 11 are added
  assert.equal(keys.length, TRAIN_PARAMS.length + 11);
});
