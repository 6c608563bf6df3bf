// Two processes (openclip launch) with --local-loss --gather-with-grad at batch B per rank follow
// the same loss curve, and end with the same weights (to float noise), as one process at batch 2B.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadCheckpoint } from '@openclip/train';
import { toFloat32 } from '@openclip/engine';
import { openclip, tempDir, tinyModelConfig, shortRun } from './helpers.js';

function losses(lines: string[]): number[] {
  return lines.flatMap((l) => [...l.matchAll(/ Loss: ([0-9.]+) \(/g)].map((m) => Number(m[1])));
}

test('2 processes at batch 8 equal 1 process at batch 16 (loss curve and final weights)', () => {
  const dir = tempDir('ddp');
  const model = tinyModelConfig(dir);
  const common = ['--dataset-type', 'synthetic', '--train-num-samples', '64', '--epochs', '2', '--local-loss', '--gather-with-grad'];
  const base = shortRun(model, join(dir, 'logs'), 'x').filter((a, i, arr) => !(a === '--batch-size' || arr[i - 1] === '--batch-size' || a === '--name' || arr[i - 1] === '--name'));
  const one = openclip(['train', ...common, ...base, '--batch-size', '16', '--name', 'one']);
  assert.equal(one.status, 0, one.stderr);
  const two = openclip(['launch', '--nproc-per-node', '2', '--', 'train', ...common, ...base, '--batch-size', '8', '--name', 'two', '--log-local']);
  assert.equal(two.status, 0, two.stderr);
  const single = losses(one.stdout.split('\n'));
  const r0 = losses(two.stdout.split('\n').filter((l) => !l.startsWith('[1]')));
  const r1 = losses(two.stdout.split('\n').filter((l) => l.startsWith('[1]')));
  assert.equal(single.length, 8);
  assert.equal(r0.length, 8);
  assert.equal(r1.length, 8);
  // with local loss each rank logs its rows' loss; their mean is the loss of the whole batch
  single.forEach((l, i) => assert.ok(Math.abs(l - (r0[i] + r1[i]) / 2) < 2e-4, `step ${i + 1}: ${l} vs ${(r0[i] + r1[i]) / 2}`));
  const a = loadCheckpoint(join(dir, 'logs', 'one', 'checkpoints', 'epoch_2.safetensors')).model;
  const b = loadCheckpoint(join(dir, 'logs', 'two', 'checkpoints', 'epoch_2.safetensors')).model;
  // AdamW's first steps move each weight by about lr·sign(g), so weights whose gradient is near
  // zero may step differently under float noise: compare the weights as a whole.
  let diff = 0;
  let norm = 0;
  for (const [k, t] of a) {
    const x = toFloat32(t), y = toFloat32(b.get(k)!);
    for (let i = 0; i < x.length; i++) {
      diff += (x[i] - y[i]) ** 2;
      norm += x[i] ** 2;
    }
  }
  assert.ok(Math.sqrt(diff / norm) < 1e-3, `relative weight difference ${Math.sqrt(diff / norm)}`);
});
