/**
 * `node dist-test/bench/train-memory.js [steps]` (part of `npm run bench -w @openclip/train`): runs
 * training steps of the demo model on synthetic batches and reports tf.memory().numTensors and
 * RSS every 50 steps, to show both stay flat after warm-up. Writes bench-results/train-memory.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initEngine, tf, Rng } from '@openclip/engine';
import { createModel } from '@openclip/models';
import { ClipLoss } from '@openclip/losses';
import { repoRoot } from '@openclip/test-config';
import { AdamW } from '../src/optim/adamw.js';
import { openclipParamGroups } from '../src/optim/param-groups.js';
import { TrainStep } from '../src/train-step.js';

const steps = Number(process.argv[2] ?? 500);
const info = await initEngine();
const model = createModel('ViT-Tiny-8-64-demo', { seed: 0 });
model.train();
const trainable = [...model.params.keys()].filter((k) => !model.frozen.has(k));
const optimizer = new AdamW(model.params, { lr: 1e-4, betas: [0.9, 0.98], eps: 1e-6, groups: openclipParamGroups(new Map(trainable.map((k) => [k, { shape: model.params.get(k)!.shape }])), 0.2) });
const step = new TrainStep(model, new ClipLoss(), optimizer, { trainable });
const rng = new Rng(1);
const B = 32;
const rows: { step: number; numTensors: number; rssMB: number; numBytesMB: number; secondsPerStep: number }[] = [];
let t0 = performance.now();
for (let i = 1; i <= steps; i++) {
  const images = tf.tensor4d(rng.fillNormal(new Float32Array(B * 3 * 64 * 64)), [B, 3, 64, 64]);
  const tok = new Int32Array(B * 16);
  for (let b = 0; b < B; b++) {
    tok[b * 16] = 49406;
    for (let j = 1; j < 8; j++) tok[b * 16 + j] = 1 + rng.randint(40000);
    tok[b * 16 + 8] = 49407;
  }
  const tokens = tf.tensor2d(tok, [B, 16], 'int32');
  step.run([{ images, tokens }], 1e-4);
  tf.dispose([images, tokens]);
  if (i % 50 === 0) {
    const now = performance.now();
    const m = tf.memory();
    rows.push({ step: i, numTensors: m.numTensors, rssMB: process.memoryUsage().rss / 2 ** 20, numBytesMB: m.numBytes / 2 ** 20, secondsPerStep: (now - t0) / 50 / 1000 });
    t0 = now;
    const r = rows.at(-1)!;
    console.log(`step ${String(i).padStart(4)}  tensors ${r.numTensors}  rss ${r.rssMB.toFixed(0)} MB  tf bytes ${r.numBytesMB.toFixed(0)} MB  ${r.secondsPerStep.toFixed(3)} s/step`);
  }
}
const after = rows.filter((r) => r.step >= 100);
const rss = after.map((r) => r.rssMB);
const summary = {
  backend: info.backend,
  steps,
  batch: B,
  numTensorsFlat: new Set(after.map((r) => r.numTensors)).size === 1,
  rssSpreadPercent: ((Math.max(...rss) - Math.min(...rss)) / Math.min(...rss)) * 100,
  rows,
};
console.log(`after warm-up (step >= 100): numTensors ${summary.numTensorsFlat ? 'flat' : 'NOT flat'}; RSS spread ${summary.rssSpreadPercent.toFixed(1)}%`);
const dir = join(repoRoot(), 'bench-results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'train-memory.json'), JSON.stringify(summary, null, 2) + '\n');
model.dispose();
