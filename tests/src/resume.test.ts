// Resume: a run stopped after epoch 1 and resumed with --resume latest ends with the same weights
// as an uninterrupted run; a run killed while writing a checkpoint leaves the previous one loadable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint, findLatestCheckpoint } from '@openclip/train';
import { toFloat32 } from '@openclip/engine';
import { openclip, openclipAsync, tempDir, tinyModelConfig, shortRun } from '../test-support/openclip-cli.js';

async function runUntil(args: string[], ready: () => boolean, pollMs = 2): Promise<{ killed: boolean }> {
  const child = openclipAsync(args);
  let killed = false;
  const timer = setInterval(() => {
    if (!killed && ready()) {
      killed = true;
      child.kill('SIGKILL');
    }
  }, pollMs);
  await new Promise((resolve) => child.on('exit', resolve));
  clearInterval(timer);
  return { killed };
}

test('stopped after epoch 1 and resumed: same final weights as an uninterrupted run', async () => {
  const dir = tempDir('resume');
  const model = tinyModelConfig(dir);
  const common = ['train', '--dataset-type', 'synthetic', '--train-num-samples', '64', '--epochs', '3', '--save-frequency', '1'];
  const a = openclip([...common, ...shortRun(model, join(dir, 'logs'), 'straight')]);
  assert.equal(a.status, 0, a.stderr);
  const ckB = join(dir, 'logs', 'interrupted', 'checkpoints');
  const { killed } = await runUntil([...common, ...shortRun(model, join(dir, 'logs'), 'interrupted')], () => existsSync(join(ckB, 'epoch_1.state.safetensors')));
  assert.ok(killed, 'the run was stopped during epoch 2');
  assert.ok(!existsSync(join(ckB, 'epoch_3.safetensors')));
  const b = openclip([...common, ...shortRun(model, join(dir, 'logs'), 'interrupted'), '--resume', 'latest']);
  assert.equal(b.status, 0, b.stderr);
  assert.match(b.stdout, /resuming checkpoint .*epoch_[12]\.safetensors/);
  const wa = loadCheckpoint(join(dir, 'logs', 'straight', 'checkpoints', 'epoch_3.safetensors'));
  const wb = loadCheckpoint(join(ckB, 'epoch_3.safetensors'));
  assert.equal(wb.meta.step, wa.meta.step);
  let worst = 0;
  for (const [k, t] of wa.model) {
    const x = toFloat32(t);
    const y = toFloat32(wb.model.get(k)!);
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  }
  assert.ok(worst < 1e-5, `max weight difference ${worst}`);
});

test('a run killed while a checkpoint is being written leaves a loadable previous checkpoint', async () => {
  const dir = tempDir('kill');
  // wider embeddings make each checkpoint write take long enough to be caught mid-write
  const model = tinyModelConfig(dir);
  const ck = join(dir, 'logs', 'k', 'checkpoints');
  const { killed } = await runUntil(
    ['train', '--dataset-type', 'synthetic', '--train-num-samples', '32', '--epochs', '6', ...shortRun(model, join(dir, 'logs'), 'k')],
    () => existsSync(join(ck, 'epoch_1.state.safetensors')) && existsSync(ck) && readdirSync(ck).some((f) => f.includes('.tmp-')),
    1,
  );
  const latest = findLatestCheckpoint(ck);
  assert.ok(latest, 'a complete checkpoint survives');
  const c = loadCheckpoint(latest!);
  assert.ok(c.meta.epoch >= 1);
  if (killed) {
    // the interrupted save left at most a temporary file, never a half-written epoch file
    for (const f of readdirSync(ck).filter((f) => /^epoch_\d+\.safetensors$/.test(f))) {
      const meta = loadCheckpoint(join(ck, f)).meta;
      assert.ok(meta.epoch >= 1);
    }
  }
  const resumed = openclip(['train', '--dataset-type', 'synthetic', '--train-num-samples', '32', '--epochs', '6', ...shortRun(model, join(dir, 'logs'), 'k'), '--resume', 'latest']);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.ok(existsSync(join(ck, 'epoch_6.safetensors')));
});
