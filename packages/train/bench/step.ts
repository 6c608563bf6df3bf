/**
 * `node dist-test/bench/step.js MODEL|CONFIG.json BATCH STEPS [--siglip] [--infer image|text] [--backend B]`:
 * times our real training step — the model from @openclip/models, OpenCLIP's loss (ClipLoss,
 * SigLipLoss with --siglip, CoCaLoss for CoCa models), AdamW with open_clip_train's parameter
 * groups (lr 1e-3, betas 0.9/0.98, eps 1e-6, wd 0.2) and the logit-scale clamp — on random
 * inputs shaped like the anchor's (../shared/upstream/openclip_train_step.py), or, with --infer,
 * encode_image / encode_text alone. Prints one JSON line like the anchor: median_s,
 * samples_per_s, peak_rss_mb (+ backend, tier, threads, numTensors before/after).
 */
import { parseArgs } from 'node:util';
import { basename } from 'node:path';
import { initEngine, tf, Rng } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import { addModelConfig, createModel, getModelConfig } from '@openclip/models';
import type { OpenClipModel } from '@openclip/models';
import { ClipLoss, CoCaLoss, SigLipLoss } from '@openclip/losses';
import type { OpenClipLoss } from '@openclip/losses';
import { AdamW } from '../src/optim/adamw.js';
import { openclipParamGroups } from '../src/optim/param-groups.js';
import { TrainStep } from '../src/train-step.js';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    siglip: { type: 'boolean', default: false },
    infer: { type: 'string' },
    backend: { type: 'string' },
    warmup: { type: 'string', default: '2' },
  },
});
if (positionals.length !== 3) {
  console.error('usage: step.js MODEL|CONFIG.json BATCH STEPS [--siglip] [--infer image|text] [--backend NAME] [--warmup N]');
  process.exit(2);
}
const [spec, batchArg, stepsArg] = positionals;
const batch = Number(batchArg), steps = Number(stepsArg), warmup = Number(opts.warmup);
if (!(batch > 0) || !(steps > 0) || !(warmup >= 0)) throw new Error(`BATCH, STEPS and --warmup must be positive numbers (got ${batchArg}, ${stepsArg}, ${opts.warmup})`);
if (opts.infer !== undefined && opts.infer !== 'image' && opts.infer !== 'text') throw new Error(`--infer must be 'image' or 'text', got '${opts.infer}'`);

const info = await initEngine({ backend: opts.backend });
const name = spec.endsWith('.json') ? (addModelConfig(spec), basename(spec, '.json')) : spec;
const cfg = getModelConfig(name);
// --siglip as open_clip_train sets it up: logit scale log(10), logit bias -10
const model: OpenClipModel = createModel(name, { seed: 0, ...(opts.siglip ? { initLogitScale: Math.log(10), initLogitBias: -10 } : {}) });
const imageSize = (() => {
  const s = cfg.vision_cfg.image_size as number | number[];
  return Array.isArray(s) ? s : [s, s];
})();
const ctx = (cfg.text_cfg.context_length as number | undefined) ?? 77;
const rng = new Rng(0);
const images = tf.tensor4d(rng.fillNormal(new Float32Array(batch * 3 * imageSize[0] * imageSize[1])), [batch, 3, imageSize[0], imageSize[1]]);
const tok = new Int32Array(batch * ctx);
for (let b = 0; b < batch; b++) {
  tok[b * ctx] = 49406;
  for (let j = 1; j < Math.min(20, ctx); j++) tok[b * ctx + j] = 1 + rng.randint(49404);
  if (ctx > 20) tok[b * ctx + 20] = 49407;
}
const tokens = tf.tensor2d(tok, [batch, ctx], 'int32');

const times: number[] = [];
const tensorsBefore = tf.memory().numTensors;
if (opts.infer) {
  model.eval();
  const run = (): Tensor => (opts.infer === 'image' ? model.encodeImage(images, { normalize: true }) : model.encodeText(tokens, { normalize: true }));
  for (let i = 0; i < steps + warmup; i++) {
    const t0 = performance.now();
    const r = run();
    r.dataSync();
    r.dispose();
    if (i >= warmup) times.push((performance.now() - t0) / 1000);
  }
} else {
  model.train();
  const trainable = [...model.params.keys()].filter((k) => !model.frozen.has(k));
  const groups = openclipParamGroups(new Map(trainable.map((k) => [k, { shape: model.params.get(k)!.shape }])), 0.2);
  const optimizer = new AdamW(model.params, { lr: 1e-3, betas: [0.9, 0.98], eps: 1e-6, groups });
  const isCoca = model.constructor.name === 'CoCa';
  const loss: OpenClipLoss = isCoca ? new CoCaLoss({ captionLossWeight: 2, clipLossWeight: 1 }) : opts.siglip ? new SigLipLoss() : new ClipLoss();
  const step = new TrainStep(model, loss, optimizer, { trainable });
  for (let i = 0; i < steps + warmup; i++) {
    const t0 = performance.now();
    step.run([{ images, tokens }], 1e-3);
    if (i >= warmup) times.push((performance.now() - t0) / 1000);
  }
}
const tensorsAfter = tf.memory().numTensors;
const sorted = [...times].sort((a, b) => a - b);
const median = sorted.length % 2 ? sorted[sorted.length >> 1] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
console.log(JSON.stringify({
  median_s: median,
  samples_per_s: batch / median,
  peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  times_s: times,
  backend: info.backend,
  tier: info.accel.tier,
  threads: info.threads,
  tensors_before: tensorsBefore,
  tensors_after: tensorsAfter,
}));
