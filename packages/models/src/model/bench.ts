/**
 * `npm run bench -w @openclip/models`: inference latency of OpenCLIP architectures at their real
 * sizes (random weights): encode_image and encode_text on the chosen backend/accel tier, plus a
 * full train step (forward + backward of the CLIP loss) on a small model. Prints a table and
 * writes bench-results/models.json at the repo root.
 *
 * PyTorch runs the same architectures and shapes (bench_torch.py, same thread count, same
 * OpenBLAS environment) afterwards in the same invocation when /usr/bin/python3 has torch.
 *
 * Options: --models ViT-B-32,RN50  --batch 8  --runs 5  --backend wasm  --train-model ViT-S-32-alt  --train-batch 16  --no-torch
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initEngine, tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import { createModel } from './create.js';
import type { CLIP } from './clip.js';
import { builtinConfigDir } from '../config/registry.js';

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

interface Row {
  model: string; what: string; batch: number; median_s: number; per_sample_ms: number; runs_s: number[];
  torch_median_s?: number; ratio_vs_torch?: number;
}

/** The PyTorch side, or a reason why it did not run. */
function runTorch(args: string[], threads: number): { rows: { model: string; what: string; median_s: number }[]; torch: string } | string {
  const py = '/usr/bin/python3';
  if (!existsSync(py)) return `${py} not found`;
  const script = resolve(here, '..', '..', 'src', 'model', 'bench_torch.py');
  const env = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) };
  const r = spawnSync(py, [script, ...args, '--threads', String(threads), '--configs', builtinConfigDir()], { env, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) return `PyTorch bench failed: ${(r.stderr || r.stdout || '').trim().split('\n').pop()}`;
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: 'ViT-B-32,RN50' },
      batch: { type: 'string', default: '8' },
      runs: { type: 'string', default: '5' },
      backend: { type: 'string', default: 'auto' },
      'train-model': { type: 'string', default: 'ViT-S-32-alt' },
      'train-batch': { type: 'string', default: '16' },
      'no-torch': { type: 'boolean', default: false },
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

  let torchNote = 'skipped (--no-torch)';
  if (!values['no-torch']) {
    const t = runTorch(['--models', values.models!, '--batch', String(batch), '--runs', String(runs),
      '--train-model', tname, '--train-batch', String(tb)], info.threads);
    if (typeof t === 'string') torchNote = t;
    else {
      torchNote = `torch ${t.torch}`;
      for (const r of rows) {
        const tr = t.rows.find((x) => x.model === r.model && x.what === r.what);
        if (tr) {
          r.torch_median_s = tr.median_s;
          r.ratio_vs_torch = r.median_s / tr.median_s;
        }
      }
    }
  }
  console.log(`\nPyTorch: ${torchNote}; OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? '(unset)'}`);
  console.log('model            what                   batch   ours (s)  torch (s)  ours/torch');
  for (const r of rows) {
    console.log(`${r.model.padEnd(16)} ${r.what.padEnd(22)} ${String(r.batch).padStart(5)}  ${r.median_s.toFixed(3).padStart(8)}  ${(r.torch_median_s?.toFixed(3) ?? '—').padStart(9)}  ${(r.ratio_vs_torch?.toFixed(2) ?? '—').padStart(10)}`);
  }
  const out = {
    benchmark: 'models', date: new Date().toISOString(), node: process.version, backend: info.backend, threads: info.threads,
    torch: torchNote, openblas_coretype: process.env.OPENBLAS_CORETYPE ?? null, rows,
  };
  mkdirSync(join(repoRoot, 'bench-results'), { recursive: true });
  writeFileSync(join(repoRoot, 'bench-results', 'models.json'), `${JSON.stringify(out, null, 2)}\n`);
  console.log(`wrote ${join(repoRoot, 'bench-results', 'models.json')}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
