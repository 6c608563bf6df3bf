import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { chooseResumeLatest, removeStaleTemporaries } from '../../src/checkpoint/resume-latest.js';

const meta = (epoch: number) => ({ epoch, step: epoch * 10, samplesSeen: epoch * 640, name: 'run', modelConfig: {}, trainConfig: {}, rng: {}, data: {} });
const model = (v: number) => new Map([['w', { shape: [2], data: new Float32Array([v, v]) }]]);
const state = (v: number) => new Map([['optimizer.w.exp_avg', { shape: [2], data: new Float32Array([v, v]) }]]);

function twoPairs(): string {
  const dir = mkdtempSync(join(tmpdir(), 'resume-latest-'));
  saveCheckpoint(dir, 'epoch_1', model(1), state(1), meta(1));
  saveCheckpoint(dir, 'epoch_2', model(2), state(2), meta(2));
  return dir;
}

test('when the newest pair is broken, the fallback says which pair it skipped and why', () => {
  const dir = twoPairs();
  truncateSync(join(dir, 'epoch_2.safetensors'), 10);
  const c = chooseResumeLatest(dir);
  assert.equal(c.path, join(dir, 'epoch_1.safetensors'));
  const text = c.notes.join('\n');
  assert.match(text, /skipped 1 unreadable checkpoint pair/);
  assert.match(text, /epoch_2: .*epoch_2\.safetensors/);
  assert.match(text, /using epoch_1 \(epoch 1, step 10\)/);
});

test('with every pair broken, --resume latest refuses, naming each pair and why, and touches nothing', () => {
  const dir = twoPairs();
  truncateSync(join(dir, 'epoch_1.safetensors'), 10); // model half truncated, state half intact
  copyFileSync(join(dir, 'epoch_1.state.safetensors'), join(dir, 'epoch_2.state.safetensors')); // ids differ now
  const before = readdirSync(dir).map((f) => [f, readFileSync(join(dir, f)).toString('base64')]);
  assert.throws(
    () => chooseResumeLatest(dir),
    (e: Error) => {
      assert.match(e.message, /every checkpoint pair in .* is unreadable/);
      assert.match(e.message, /epoch_1: .*epoch_1\.safetensors/);
      assert.match(e.message, /epoch_2: .*do not belong together/);
      assert.match(e.message, /--resume-start-over/);
      return true;
    },
  );
  assert.deepEqual(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f)).toString('base64')]), before);
});

test('--resume-start-over moves the broken pairs aside (nothing is lost) and starts from scratch', () => {
  const dir = twoPairs();
  truncateSync(join(dir, 'epoch_1.safetensors'), 10);
  truncateSync(join(dir, 'epoch_2.state.safetensors'), 10);
  const c = chooseResumeLatest(dir, { startOver: true });
  assert.equal(c.path, null);
  const aside = readdirSync(dir).filter((f) => f.startsWith('broken-'));
  assert.equal(aside.length, 1);
  assert.deepEqual(readdirSync(join(dir, aside[0])).sort(), ['epoch_1.safetensors', 'epoch_1.state.safetensors', 'epoch_2.safetensors', 'epoch_2.state.safetensors']);
  assert.match(c.notes.join('\n'), /moved them to .*broken-/);
  // a lone state file counts as a pair too, and an empty folder starts from scratch quietly
  const lone = mkdtempSync(join(tmpdir(), 'resume-latest-'));
  assert.equal(chooseResumeLatest(lone).path, null);
  writeFileSync(join(lone, 'epoch_3.state.safetensors'), 'x');
  assert.throws(() => chooseResumeLatest(lone), /epoch_3: .*model file not found/);
});

test('temporary files of dead processes are removed at start; those of live ones are kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stale-tmp-'));
  const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  const deadPid = Number(dead.stdout.trim());
  const stale = `.epoch_3.safetensors.tmp-${deadPid}-0a1b2c3d`;
  const mine = `.epoch_4.safetensors.tmp-${process.pid}-deadbeef`;
  for (const f of [stale, mine, 'epoch_1.safetensors', '.notes.tmp']) writeFileSync(join(dir, f), 'x');
  assert.deepEqual(removeStaleTemporaries(dir), [stale]);
  assert.ok(!existsSync(join(dir, stale)));
  for (const f of [mine, 'epoch_1.safetensors', '.notes.tmp']) assert.ok(existsSync(join(dir, f)));
});
