/** Benchmark: OpenCLIP-style `tokenize` throughput on 100,000 mixed-length captions, beside a Python re-implementation of SimpleTokenizer when python3 is present. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '@openclip/engine/rng';
import { repoRoot } from '@openclip/test-config';
import { bundledMergesText } from '../src/bpe-vocab.js';
import { SimpleTokenizer } from '../src/simple-tokenizer.js';
import { median } from '@openclip/test-config/bench';

const WORDS = (
  'a an the of in on at with and or to from by for over under near behind beside two three four several ' +
  'man woman person people child children boy girl dog dogs cat cats horse bird birds car cars bus train bike ' +
  'street road city building house room kitchen table chair bed window door wall floor tree trees grass field ' +
  'beach water ocean lake river mountain sky cloud clouds snow rain sun light night day morning evening ' +
  'red blue green yellow white black brown orange pink purple gray small large big little old young tall ' +
  'sitting standing walking running playing eating holding looking riding wearing carrying flying lying ' +
  'photo picture image view close up front top side group couple family team crowd market park garden ' +
  'plate food pizza sandwich cake coffee cup glass bottle phone laptop book paper sign clock ball kite ' +
  'shirt hat jacket dress shoes umbrella bag frisbee skateboard surfboard snowboard boat plane truck ' +
  'is are has have while during after before together another other its their his her very some many'
).split(' ');

function captions(n: number, seed: number): string[] {
  const rng = new Rng(seed);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = 3 + rng.randint(38);
    const words: string[] = [];
    for (let j = 0; j < len; j++) words.push(WORDS[rng.randint(WORDS.length)]);
    words[0] = words[0][0].toUpperCase() + words[0].slice(1);
    out.push(words.join(' ') + (rng.random() < 0.5 ? '.' : ''));
  }
  return out;
}

const N = Number(process.env.BENCH_CAPTIONS ?? 100_000);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const CTX = 77;
const texts = captions(N, 2024);

// JS: a fresh tokenizer (empty word cache) each run; vocabulary load timed separately.
const t0 = performance.now();
new SimpleTokenizer({ vocab: undefined });
const loadMs = performance.now() - t0;
const coldRuns: number[] = [];
const warmRuns: number[] = [];
let jsChecksum = 0;
for (let r = 0; r < REPEATS; r++) {
  const tok = new SimpleTokenizer();
  let t = performance.now();
  const out = tok.tokenize(texts, CTX);
  coldRuns.push((performance.now() - t) / 1000);
  t = performance.now();
  tok.tokenize(texts, CTX);
  warmRuns.push((performance.now() - t) / 1000);
  jsChecksum = out.data.reduce((s, v) => s + v, 0);
}

interface PyResult {
  seconds: number[];
  captions: number;
  engine: string;
  torch: boolean;
  checksum: number;
}
let py: PyResult | null = null;
let pyNote = '';
const python = process.env.PYTHON ?? '/usr/bin/python3';
const script = fileURLToPath(new URL('../../bench/tokenizer.py', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'openclip-tok-bench-'));
try {
  writeFileSync(join(tmp, 'merges.txt'), bundledMergesText());
  writeFileSync(join(tmp, 'captions.json'), JSON.stringify(texts));
  const pyRepeats = Math.max(1, Math.min(REPEATS, 3));
  const r = spawnSync(python, [script, join(tmp, 'merges.txt'), join(tmp, 'captions.json'), String(CTX), String(pyRepeats)], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (r.status === 0) py = JSON.parse(r.stdout.trim().split('\n').pop()!) as PyResult;
  else pyNote = `python side not run: ${(r.stderr || r.error?.message || 'unknown error').trim().split('\n').pop()}`;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const rows: Array<[string, string, string]> = [
  ['vocabulary load (ms)', loadMs.toFixed(0), ''],
  ['JS tokenize, cold cache (captions/s)', (N / median(coldRuns)).toFixed(0), `median of ${REPEATS}`],
  ['JS tokenize, warm cache (captions/s)', (N / median(warmRuns)).toFixed(0), `median of ${REPEATS}`],
];
if (py) {
  rows.push([
    `Python SimpleTokenizer re-impl (${py.engine}${py.torch ? ', torch' : ''}) (captions/s)`,
    (N / median(py.seconds)).toFixed(0),
    `median of ${py.seconds.length}, no ftfy`,
  ]);
  rows.push(['speed-up (JS cold / Python)', (median(py.seconds) / median(coldRuns)).toFixed(2) + 'x', '']);
  rows.push(['outputs identical (checksum)', String(py.checksum === jsChecksum), `${jsChecksum}`]);
}
rows.push(['issue reference: Python OpenCLIP tokenize', '15000', 'target >= 45000 (3x)']);

const w0 = Math.max(...rows.map((r) => r[0].length));
console.log(`tokenizer benchmark: ${N} captions of 3-40 words, context ${CTX}, node ${process.version}`);
for (const [k, v, note] of rows) console.log(`${k.padEnd(w0)}  ${v.padStart(10)}  ${note}`);
if (pyNote) console.log(pyNote);

const outDir = join(repoRoot(), 'bench-results');
mkdirSync(outDir, { recursive: true });
const result = {
  benchmark: 'tokenizer',
  date: new Date().toISOString(),
  node: process.version,
  captions: N,
  contextLength: CTX,
  vocabLoadMs: loadMs,
  js: { coldSeconds: coldRuns, warmSeconds: warmRuns, coldCaptionsPerSec: N / median(coldRuns), warmCaptionsPerSec: N / median(warmRuns), checksum: jsChecksum },
  python: py ? { ...py, captionsPerSec: N / median(py.seconds) } : { note: pyNote },
};
writeFileSync(join(outDir, 'tokenizer.json'), JSON.stringify(result, null, 2) + '\n');
console.log(`wrote ${join(outDir, 'tokenizer.json')}`);
