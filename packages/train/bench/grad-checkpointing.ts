/**
 * `node dist-test/bench/grad-checkpointing.js [model] [batch] [steps]` (default ViT-B-32, 8, 2): one
 * process per setting (plain, --grad-checkpointing) runs real training steps (TrainStep: forward,
 * ClipLoss, backward, AdamW) on random batches and reports the peak bytes of live tensors during a
 * step (tf.profile), the process's peak RSS and the seconds per step, side by side. Writes
 * bench-results/grad-checkpointing.json. AdamW runs its exact kernel here: tf.profile cannot follow the engine's in-place fused kernel. (PyTorch's own --grad-checkpointing figures need Debian's
 * python3-torch; the run says when it is absent.)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initEngine, tf, Rng } from '@openclip/engine';
import { createModel } from '@openclip/models';
import { ClipLoss } from '@openclip/losses';
import { repoRoot } from '@openclip/test-config';
import { AdamW } from '../src/optim/adamw.js';
import { openclipParamGroups } from '../src/optim/param-groups.js';
import { TrainStep } from '../src/train-step.js';

interface Row {
  setting: string;
  backend: string;
  peakTensorMB: number;
  maxRssMB: number;
  secondsPerStep: number;
}

async function child(modelName: string, batch: number, steps: number, ckpt: boolean): Promise<Row> {
  const info = await initEngine();
  const model = createModel(modelName, { seed: 0 });
  model.train();
  if (ckpt) model.setGradCheckpointing(true);
  const trainable = [...model.params.keys()].filter((k) => !model.frozen.has(k));
  const optimizer = new AdamW(model.params, { kernel: 'exact', lr: 1e-5, betas: [0.9, 0.98], eps: 1e-6, groups: openclipParamGroups(new Map(trainable.map((k) => [k, { shape: model.params.get(k)!.shape }])), 0.2) });
  const step = new TrainStep(model, new ClipLoss(), optimizer, { trainable });
  const size = model.config.vision_cfg.image_size as number;
  const ctx = model.config.text_cfg.context_length;
  const rng = new Rng(1);
  let peak = 0;
  let seconds = 0;
  for (let i = 0; i < steps; i++) {
    const images = tf.tensor4d(rng.fillNormal(new Float32Array(batch * 3 * size * size)), [batch, 3, size, size]);
    const tok = new Int32Array(batch * ctx);
    for (let b = 0; b < batch; b++) {
      tok[b * ctx] = 49406;
      for (let j = 1; j < 12; j++) tok[b * ctx + j] = 1 + rng.randint(40000);
      tok[b * ctx + 12] = 49407;
    }
    const tokens = tf.tensor2d(tok, [batch, ctx], 'int32');
    const t0 = performance.now();
    const prof = await tf.profile(() => {
      step.run([{ images, tokens }], 1e-5);
    });
    if (i > 0 || steps === 1) seconds += (performance.now() - t0) / 1000;
    peak = Math.max(peak, prof.peakBytes);
    tf.dispose([images, tokens]);
  }
  model.dispose();
  return { setting: ckpt ? '--grad-checkpointing' : 'plain', backend: `${info.backend}/${info.accel.tier}`, peakTensorMB: peak / 2 ** 20, maxRssMB: process.resourceUsage().maxRSS / 1024, secondsPerStep: seconds / Math.max(1, steps - 1) };
}

const [modelName = 'ViT-B-32', batchArg = '8', stepsArg = '2', role] = process.argv.slice(2);
const batch = Number(batchArg);
const steps = Number(stepsArg);
if (role === 'plain' || role === 'ckpt') {
  process.stdout.write(JSON.stringify(await child(modelName, batch, steps, role === 'ckpt')) + '\n');
} else {
  const self = fileURLToPath(import.meta.url);
  const rows: Row[] = [];
  for (const r of ['plain', 'ckpt']) {
    const p = spawnSync(process.execPath, [self, modelName, String(batch), String(steps), r], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (p.status !== 0) throw new Error(`${r}: ${p.stderr}`);
    rows.push(JSON.parse(p.stdout.trim().split('\n').pop()!) as Row);
  }
  const torch = spawnSync('python3', ['-c', 'import torch'], { encoding: 'utf8' });
  console.log(`${modelName}, batch ${batch}, ${steps} steps per setting, ${cpus().length} cores, load ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log('setting                backend          peak tensors MB   max RSS MB   s/step');
  for (const r of rows) console.log(`${r.setting.padEnd(22)} ${r.backend.padEnd(16)} ${r.peakTensorMB.toFixed(0).padStart(15)} ${r.maxRssMB.toFixed(0).padStart(12)} ${r.secondsPerStep.toFixed(2).padStart(8)}`);
  const [a, b] = rows;
  console.log(`checkpointing: peak tensors x${(b.peakTensorMB / a.peakTensorMB).toFixed(2)}, max RSS x${(b.maxRssMB / a.maxRssMB).toFixed(2)}, time x${(b.secondsPerStep / a.secondsPerStep).toFixed(2)}`);
  if (torch.status !== 0) console.log('PyTorch (python3-torch) is not installed here: no upstream figures in this run');
  const dir = join(repoRoot(), 'bench-results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'grad-checkpointing.json'), JSON.stringify({ model: modelName, batch, steps, load: loadavg(), rows }, null, 2) + '\n');
}
