/**
 * Benchmark of CoCa captioning and zero-shot classifier building on the reference fixture models:
 * `node dist-test/bench/generate.js [backend ...]` (default: cpu wasm). Prints a table and writes
 * `bench-results/coca-generate.json` at the repository root. Generation: median of 3 runs after a
 * warm-up; the classifier: one run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initEngine, tf, engineInfo } from '@openclip/engine';
import { repoRoot } from '@openclip/test-config';
import { SimpleTokenizer } from '@openclip/tokenizer';
import { readModelConfigFile } from '../src/config/registry.js';
import { createModel } from '../src/model/create.js';
import { fixtureImages, modelCase, readAll } from '../test-support/reference-models.js';
import { IMAGENET_CLASSNAMES, SIMPLE_IMAGENET_TEMPLATES } from '../src/zero-shot/imagenet-metadata.js';
import { buildZeroShotClassifier } from '../src/zero-shot/zero-shot-classifier.js';
import { CoCa } from '../src/coca/coca.js';
import type { GenerateOptions } from '../src/coca/generate.js';
import { median } from '@openclip/test-config/bench';

async function time(fn: () => Promise<unknown>, runs = 3, warmup = true): Promise<number> {
  if (warmup) await fn();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  return median(t);
}

interface Row { backend: string; case: string; ms: number; detail: string }

const backends = process.argv.slice(2).length ? process.argv.slice(2) : ['cpu', 'wasm'];
const rows: Row[] = [];
for (const backend of backends) {
  await initEngine({ backend });
  const c = modelCase('coca_tiny');
  const coca = new CoCa(readModelConfigFile(c.config), { initWeights: false });
  coca.loadStateDict(readAll(c.weights));
  const images = fixtureImages(c);
  const four = tf.slice(images, [0, 0, 0, 0], [4, -1, -1, -1]);
  const cases: [string, GenerateOptions][] = [
    ['greedy, 4 images, seqLen 30', { generationType: 'greedy', seqLen: 30 }],
    ['top_p 0.9, 4 images, seqLen 30', { generationType: 'top_p', topP: 0.9, seqLen: 30, rng: 1 }],
    ['beam_search 6 beams / 3 groups, 4 images, seqLen 30', { generationType: 'beam_search', seqLen: 30 }],
  ];
  for (const [name, o] of cases) {
    let tokens = 0;
    const ms = await time(async () => {
      const out = await coca.generate(four, o);
      tokens = out.reduce((a, r) => a + r.length, 0);
    });
    rows.push({ backend, case: `coca_tiny generate: ${name}`, ms, detail: `${tokens} tokens out` });
  }
  tf.dispose([images, four]);
  coca.dispose();

  const v = modelCase('vit_tiny');
  const clip = createModel(readModelConfigFile(v.config), { initWeights: false });
  clip.loadStateDict(readAll(v.weights));
  const tok = new SimpleTokenizer();
  const classes = IMAGENET_CLASSNAMES.slice(0, 100);
  const ms = await time(async () => {
    const w = buildZeroShotClassifier(clip, tok, classes, SIMPLE_IMAGENET_TEMPLATES);
    w.dispose();
  }, 1, false);
  rows.push({ backend, case: 'vit_tiny zero-shot classifier: 100 ImageNet classes x 7 simple templates', ms, detail: `${Math.round(700 / (ms / 1000))} texts/s` });
  clip.dispose();
}

console.log(`engine ${engineInfo()?.backend}, ${engineInfo()?.threads} threads`);
console.log('| backend | case | median ms | detail |\n|---|---|---|---|');
for (const r of rows) console.log(`| ${r.backend} | ${r.case} | ${r.ms.toFixed(0)} | ${r.detail} |`);
const dir = join(repoRoot(), 'bench-results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'coca-generate.json'), JSON.stringify({ date: new Date().toISOString(), threads: engineInfo()?.threads, rows }, null, 2));
