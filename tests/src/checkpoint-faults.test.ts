// Checkpoint faults end to end: --resume latest over broken pairs refuses instead of training
// over them; --resume-start-over moves them aside; a stale temporary file is removed at start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { openclip, tempDir, tinyModelConfig, shortRun } from '../test-support/openclip-cli.js';

const snapshot = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort().map((f) => [f, readFileSync(join(dir, f)).toString('base64')]);

test('--resume latest with every pair broken refuses, naming each pair, and overwrites nothing; --resume-start-over moves them aside', () => {
  const dir = tempDir('ckfaults');
  const model = tinyModelConfig(dir);
  const run = ['train', '--dataset-type', 'synthetic', '--train-num-samples', '32', ...shortRun(model, join(dir, 'logs'), 'r')];
  const a = openclip([...run, '--epochs', '2']);
  assert.equal(a.status, 0, a.stderr);
  const ck = join(dir, 'logs', 'r', 'checkpoints');
  // break both pairs: epoch_1's model half truncated, epoch_2's state half from another save
  writeFileSync(join(ck, 'epoch_1.safetensors'), readFileSync(join(ck, 'epoch_1.safetensors')).subarray(0, 100));
  copyFileSync(join(ck, 'epoch_1.state.safetensors'), join(ck, 'epoch_2.state.safetensors'));
  const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim();
  const stale = `.epoch_3.safetensors.tmp-${dead}-00aa11bb`;
  writeFileSync(join(ck, stale), 'partial');
  const before = snapshot(ck);
  const b = openclip([...run, '--epochs', '3', '--resume', 'latest']);
  assert.notEqual(b.status, 0);
  const out = b.stdout + b.stderr;
  assert.match(out, /every checkpoint pair in .* is unreadable/);
  assert.match(out, /epoch_1: /);
  assert.match(out, /epoch_2: .*do not belong together/);
  assert.doesNotMatch(out, /starting from scratch/);
  assert.deepEqual(snapshot(ck), before, 'no checkpoint file was touched');
  assert.ok(!existsSync(join(ck, stale)), 'the dead process\'s temporary file was removed at start');
  assert.match(out, /removed .*\.tmp-.*interrupted save/);
  const c = openclip([...run, '--epochs', '3', '--resume', 'latest', '--resume-start-over']);
  assert.equal(c.status, 0, c.stderr);
  assert.match(c.stdout, /moved them to .*broken-/);
  const aside = readdirSync(ck).find((f) => f.startsWith('broken-'))!;
  assert.deepEqual(readdirSync(join(ck, aside)).sort(), ['epoch_1.safetensors', 'epoch_1.state.safetensors', 'epoch_2.safetensors', 'epoch_2.state.safetensors']);
  assert.ok(existsSync(join(ck, 'epoch_3.safetensors')));
});
