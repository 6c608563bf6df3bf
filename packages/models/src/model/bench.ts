/**
 * `npm run bench -w @openclip/models`: inference latency of OpenCLIP architectures at their real
 * sizes (random weights): encode_image and encode_text on the chosen backend/accel tier, plus a
 * full train step (forward + backward of the CLIP loss) on a small model. Prints a table and
 * writes bench-results/models.json at the repo root.
 *
 * Options: --models ViT-B-32,RN50  --batch 8  --runs 5  --backend wasm  --train-model ViT-S-32-alt  --train-batch 16
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initEngine, tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import { createModel } from './create.js';
import type { CLIP } from './clip.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..', '..', '..');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function time(fn: () => Tensor, runs: number): number[] {
  const out: number[] = [];
  fn().dispose(); // warm-up
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = fn();
    r.dataSync();
    r.dispose();
    out.push((performance.now() - t0) / 1000);
  }
  return out;
}

interface Row { model: string; what: string; batch: number; median_s: number; per_sample_ms: number; runs_s: number[] }

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: 'ViT-B-32,RN50' },
      batch: { type: 'string', default: '8' },
      runs: { type: 'string', default: '5' },
      backend: { type: 'string', default: 'auto' },
      'train-model': { type: 'string', default: 'ViT-S-32-alt' },
      'train-batch': { type: 'string', default: '16' },
    },
  });
  const info = await initEngine({ backend: values.backend });
  const batch = Number(values.batch);
  const runs = Number(values.runs);
  const rows: Row[] = [];
  const add = (model: string, what: string, b: number, ts: number[]) => {
    const m = median(ts);
    rows.push({ model, what, batch: b, median_s: m, per_sample_ms: (m / b) * 1000, runs_s: ts });
    console.log(`${model.padEnd(16)} ${what.padEnd(22)} batch ${String(b).padStart(3)}  median ${m.toFixed(3)} s  (${((m / b) * 1000).toFixed(1)} ms/sample)`);
  };
  console.log(`backend ${info.backend}${'accel' in info ? ` (accel ${(info as unknown as { accel: { tier: string } }).accel.tier})` : ''}, threads ${info.threads}`);
  for (const name of values.models!.split(',')) {
    const model = createModel(name, { seed: 0 }) as CLIP;
    const [h, w] = model.visual.imageSize;
    const images = tf.randomNormal([batch, 3, h, w], 0, 1, 'float32', 1);
    const ctx = model.text.contextLength;
    const ids = new Int32Array(batch * ctx);
    for (let i = 0; i < batch; i++) {
      const len = 5 + (i % 10);
      ids[i * ctx] = 49406;
      for (let j = 1; j < len; j++) ids[i * ctx + j] = 300 + ((i * 31 + j * 7) % 40000);
      ids[i * ctx + len] = 49407;
    }
    const tokens = tf.tensor2d(ids, [batch, ctx], 'int32');
    add(name, 'encode_image', batch, time(() => model.encodeImage(images), runs));
    add(name, 'encode_text', batch, time(() => model.encodeText(tokens), runs));
    tf.dispose([images, tokens]);
    model.dispose();
  }
  // one training step (loss + gradients of every parameter) on a small model
  const tname = values['train-model']!;
  const tb = Number(values['train-batch']);
  const tm = createModel(tname, { seed: 0 }) as CLIP;
  tm.train();
  const [th, tw] = tm.visual.imageSize;
  const timgs = tf.randomNormal([tb, 3, th, tw], 0, 1, 'float32', 2);
  const tctx = tm.text.contextLength;
  const tids = new Int32Array(tb * tctx);
  for (let i = 0; i < tb; i++) {
    tids[i * tctx] = 49406;
    for (let j = 1; j < 12; j++) tids[i * tctx + j] = 400 + i * 13 + j;
    tids[i * tctx + 12] = 49407;
  }
  const ttoks = tf.tensor2d(tids, [tb, tctx], 'int32');
  const vars = [...tm.params.values()];
  const step = () => {
    const { value, grads } = tf.variableGrads(() => {
      const out = tm.forward(timgs, ttoks);
      const logits = tf.mul(out.logitScale, tf.matMul(out.imageFeatures!, out.textFeatures!, false, true));
      const labels = tf.oneHot(tf.range(0, tb, 1, 'int32'), tb);
      const ce = (l: Tensor) => tf.neg(tf.mean(tf.sum(tf.mul(labels, tf.logSoftmax(l)), -1)));
      return tf.div(tf.add(ce(logits), ce(tf.transpose(logits))), 2) as tf.Scalar;
    }, vars);
    tf.dispose(Object.values(grads));
    return value;
  };
  add(tname, 'train step (fwd+bwd)', tb, time(step, Math.max(3, Math.min(runs, 5))));
  tf.dispose([timgs, ttoks]);
  tm.dispose();

  const out = { benchmark: 'models', date: new Date().toISOString(), node: process.version, backend: info.backend, threads: info.threads, rows };
  mkdirSync(join(repoRoot, 'bench-results'), { recursive: true });
  writeFileSync(join(repoRoot, 'bench-results', 'models.json'), `${JSON.stringify(out, null, 2)}\n`);
  console.log(`wrote ${join(repoRoot, 'bench-results', 'models.json')}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
