// Exact mid-epoch resume: a run saving every step (--save-every-n-steps 1) is killed with SIGKILL
// at a random step, resumed with --resume latest, and must end with weights bit-identical to an
// uninterrupted run — on CSV and webdataset data, with 1 and 2 data workers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadCheckpoint } from '@openclip/train';
import { openclip, openclipAsync, tempDir, tinyModelConfig, shortRun } from '../test-support/openclip-cli.js';

const SAMPLES = 96;
const BATCH = 16;
const EPOCHS = 2;
const STEPS = (SAMPLES / BATCH) * EPOCHS;

/** Runs until `steps` training log lines have appeared, then SIGKILLs; resolves with the lines seen. */
function killAtStep(args: string[], steps: number): Promise<number> {
  const child = openclipAsync(args);
  let seen = 0;
  let text = '';
  child.stdout!.on('data', (d) => {
    text += d;
    seen = (text.match(/Train Epoch: \d+ \[/g) ?? []).length;
    if (seen >= steps) child.kill('SIGKILL');
  });
  child.stderr!.resume();
  const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
  return new Promise((resolve) => child.on('exit', () => (clearTimeout(timer), resolve(seen))));
}

function sameBits(a: string, b: string): string | null {
  const x = loadCheckpoint(a);
  const y = loadCheckpoint(b);
  if (x.meta.step !== y.meta.step) return `steps differ: ${x.meta.step} vs ${y.meta.step}`;
  for (const [k, t] of x.model) {
    const u = y.model.get(k);
    if (!u) return `${k} missing`;
    const p = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const q = Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength);
    if (!p.equals(q)) return `${k} differs`;
  }
  for (const [k, t] of x.state) {
    const u = y.state.get(k)!;
    if (!Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength))) return `optimizer ${k} differs`;
  }
  return null;
}

for (const layout of ['csv', 'webdataset'] as const) {
  test(`${layout}: SIGKILL at a random step, --resume latest: weights bit-identical to an uninterrupted run (1 and 2 workers)`, async () => {
    const dir = tempDir(`midresume-${layout}`);
    const model = tinyModelConfig(dir);
    const made = openclip(['make-dataset', '--type', layout, '--num-samples', String(SAMPLES), '--shard-size', '24', '--image-size', '32', '--seed', '7', '--out', join(dir, 'data'), '--json']);
    assert.equal(made.status, 0, made.stderr);
    const trainData = JSON.parse(made.stdout).trainData as string;
    const data = ['--train-data', trainData, '--dataset-type', layout, ...(layout === 'webdataset' ? ['--train-num-samples', String(SAMPLES)] : [])];
    for (const workers of ['1', '2']) {
      const run = (name: string) => ['train', ...data, '--epochs', String(EPOCHS), '--save-every-n-steps', '1', ...shortRun(model, join(dir, 'logs'), name).filter((a, i, all) => a !== '--workers' && all[i - 1] !== '--workers'), '--workers', workers];
      const straight = openclip(run(`straight-${workers}`));
      assert.equal(straight.status, 0, straight.stderr);
      const killStep = 2 + Math.floor(Math.random() * (STEPS - 4)); // somewhere inside the run
      const seen = await killAtStep(run(`killed-${workers}`), killStep);
      assert.ok(seen >= killStep && seen < STEPS, `killed after ${seen} steps (aimed at ${killStep})`);
      const resumed = openclip([...run(`killed-${workers}`), '--resume', 'latest']);
      assert.equal(resumed.status, 0, resumed.stderr);
      assert.match(resumed.stdout, /resuming checkpoint .*epoch_latest\.safetensors/);
      const why = sameBits(join(dir, 'logs', `straight-${workers}`, 'checkpoints', `epoch_${EPOCHS}.safetensors`), join(dir, 'logs', `killed-${workers}`, 'checkpoints', `epoch_${EPOCHS}.safetensors`));
      assert.equal(why, null, `${layout}, ${workers} worker(s), killed at step ${seen}: ${why}`);
    }
  });
}
