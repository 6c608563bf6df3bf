/**
 * `node dist-test/bench/profile-kernels.js MODEL|CONFIG.json BATCH [--backend B] [--siglip] [--warmup 3]`: one
 * training step of our real step (as bench/step.ts builds it) with every kernel of the backend
 * wrapped in a timer, printing each kernel's self time (time spent in kernels it calls is
 * theirs) and count, largest first — to see where a step's time goes on a backend. (tf.profile
 * is not used: it keeps every output alive, which turns the memory pool's reuse into page faults.)
 */
import { parseArgs } from 'node:util';
import { basename } from 'node:path';
import { initEngine, tf, Rng } from '@openclip/engine';
import { addModelConfig, createModel, getModelConfig } from '@openclip/models';
import { ClipLoss, CoCaLoss, SigLipLoss } from '@openclip/losses';
import type { OpenClipLoss } from '@openclip/losses';
import { AdamW } from '../src/optim/adamw.js';
import { openclipParamGroups } from '../src/optim/param-groups.js';
import { TrainStep } from '../src/train-step.js';

const { values: opts, positionals } = parseArgs({ allowPositionals: true, options: { backend: { type: 'string' }, siglip: { type: 'boolean', default: false }, top: { type: 'string', default: '30' }, warmup: { type: 'string', default: '3' } } });
if (positionals.length !== 2) {
  console.error('usage: profile-kernels.js MODEL|CONFIG.json BATCH [--backend NAME] [--siglip] [--top N] [--warmup STEPS]');
  process.exit(2);
}
const [spec, batchArg] = positionals;
const batch = Number(batchArg);
const info = await initEngine({ backend: opts.backend });
const name = spec.endsWith('.json') ? (addModelConfig(spec), basename(spec, '.json')) : spec;
const cfg = getModelConfig(name);
const model = createModel(name, { seed: 0, ...(opts.siglip ? { initLogitScale: Math.log(10), initLogitBias: -10 } : {}) });
const s = cfg.vision_cfg.image_size as number;
const ctx = (cfg.text_cfg.context_length as number | undefined) ?? 77;
const rng = new Rng(0);
const images = tf.tensor4d(rng.fillNormal(new Float32Array(batch * 3 * s * s)), [batch, 3, s, s]);
const tok = new Int32Array(batch * ctx);
for (let b = 0; b < batch; b++) for (let j = 0; j < Math.min(20, ctx); j++) tok[b * ctx + j] = j === 0 ? 49406 : 1 + rng.randint(49404);
const tokens = tf.tensor2d(tok, [batch, ctx], 'int32');
model.train();
const trainable = [...model.params.keys()].filter((k) => !model.frozen.has(k));
const optimizer = new AdamW(model.params, { lr: 1e-3, betas: [0.9, 0.98], eps: 1e-6, groups: openclipParamGroups(new Map(trainable.map((k) => [k, { shape: model.params.get(k)!.shape }])), 0.2) });
const loss: OpenClipLoss = model.constructor.name === 'CoCa' ? new CoCaLoss({ captionLossWeight: 2, clipLossWeight: 1 }) : opts.siglip ? new SigLipLoss() : new ClipLoss();
const step = new TrainStep(model, loss, optimizer, { trainable });
for (let i = 0; i < Number(opts.warmup); i++) step.run([{ images, tokens }], 1e-3); // warm-up (first calls JIT-compile and fill pools)
const by = new Map<string, { ms: number; n: number; shapes: Map<string, [number, number]> }>();
let childMs = 0; // time of kernels called from inside the running kernel
const backendName = tf.getBackend();
for (const config of tf.getKernelsForBackend(backendName)) {
  const inner = config.kernelFunc;
  tf.unregisterKernel(config.kernelName, backendName);
  tf.registerKernel({
    ...config,
    kernelFunc: (args) => {
      const outerChild = childMs;
      childMs = 0;
      const t = performance.now();
      const out = inner(args);
      const ms = performance.now() - t;
      const self = ms - childMs;
      childMs = outerChild + ms;
      const e = by.get(config.kernelName) ?? { ms: 0, n: 0, shapes: new Map() };
      e.ms += self;
      e.n++;
      const sh = Object.values(args.inputs).map((x) => `[${x?.shape ?? ''}]`).join('');
      const prev = e.shapes.get(sh) ?? [0, 0];
      e.shapes.set(sh, [prev[0] + self, prev[1] + 1]);
      by.set(config.kernelName, e);
      return out;
    },
  });
}
const t0 = performance.now();
step.run([{ images, tokens }], 1e-3);
const wall = performance.now() - t0;
const rows = [...by.entries()].sort((a, b) => b[1].ms - a[1].ms);
const total = rows.reduce((a, [, e]) => a + e.ms, 0);
console.log(`${info.backend}/${info.accel.tier}: wall ${wall.toFixed(0)} ms (timed kernels), kernels ${total.toFixed(0)} ms`);
for (const [k, e] of rows.slice(0, Number(opts.top))) {
  const top = [...e.shapes.entries()].sort((a, b) => b[1][0] - a[1][0]).slice(0, 2).map(([sh, [ms, n]]) => `${sh} ${ms.toFixed(0)} ms/${n}`).join('; ');
  console.log(`${k.padEnd(28)} ${e.ms.toFixed(1).padStart(8)} ms ${String(e.n).padStart(5)}x  ${top}`);
}
