/**
 * Benchmark of the data pipeline on webdataset shards of 256x256 JPEGs producing 224x224 normalised
 * batches (OpenCLIP eval preprocessing: bicubic shortest-edge resize, center crop, normalise) plus CLIP
 * tokens, at 0 (in-process), 1 and 2 worker threads with the default kernels (@openclip/data-native when
 * built), and at 1 worker thread with the TypeScript + sharp kernels, beside a Python loop (tarfile + PIL
 * + the same resize/crop/normalise in numpy, batches stacked) on the same shards. The Python loop is a
 * persistent process and the rounds of every pipeline alternate, so all see the same machine load.
 * Reports wall samples/s and samples per CPU-second (process CPU time, all threads: the per-core
 * figure), and per round the ratio to the Python loop of the same round; writes
 * bench-results/data-pipeline.json at the repo root.
 *
 *   npm run bench -w @openclip/data     (BENCH_ROUNDS, BENCH_SAMPLES to change the size)
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { repoRoot } from '@openclip/test-config';
import { cpuSeconds, median, PythonLoop } from './python-loop.js';
import { nativeImageStatus } from '../src/image/native.js';
import { createDataLoader, type DataLoader } from '../src/pipeline/data-loader.js';
import { expandUrls } from '../src/shards/brace-expand.js';
import { writeSyntheticDataset } from '../src/synthetic/write-dataset.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 512);
const SHARD_SIZE = 64;
const BATCH = 64;

const PY = `
import io, json, sys, tarfile, time
import numpy as np
from PIL import Image
shards = json.loads(sys.argv[1]); batch = int(sys.argv[2]); dump = sys.argv[3]
size = 224
mean = np.array([0.48145466, 0.4578275, 0.40821073], np.float32).reshape(3, 1, 1)
std = np.array([0.26862954, 0.26130258, 0.27577711], np.float32).reshape(3, 1, 1)
def transform(data):
    im = Image.open(io.BytesIO(data))
    w, h = im.size
    nw, nh = (size, int(size * h / w)) if w <= h else (int(size * w / h), size)
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.BICUBIC)
    top, left = int(round((nh - size) / 2.0)), int(round((nw - size) / 2.0))
    im = im.crop((left, top, left + size, top + size)).convert('RGB')
    a = np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / np.float32(255)
    return (a - mean) / std
def samples():
    for path in shards:
        with tarfile.open(path, 'r|') as tf:
            cur, parts = None, {}
            for m in tf:
                if not m.isfile(): continue
                base = m.name.split('/')[-1]
                key, ext = m.name[: len(m.name) - len(base)] + base.split('.', 1)[0], base.split('.', 1)[1]
                data = tf.extractfile(m).read()
                if key != cur:
                    if parts: yield parts
                    cur, parts = key, {}
                parts[ext] = data
            if parts: yield parts
def epoch(first=None):
    n, imgs, caps = 0, [], []
    for s in samples():
        imgs.append(transform(s['jpg'])); caps.append(s['txt'].decode('utf-8'))
        if len(imgs) == batch:
            b = np.stack(imgs); n += len(imgs); imgs, caps = [], []
            if first and n == batch: b.astype(np.float32).tofile(first)
    if imgs: np.stack(imgs); n += len(imgs)
    return n
epoch(dump)
print(json.dumps({'ready': True}), flush=True)
for line in sys.stdin:
    t0, c0 = time.perf_counter(), time.process_time()
    n = epoch()
    print(json.dumps([n, time.perf_counter() - t0, time.process_time() - c0]), flush=True)
`;

interface Row {
  impl: string;
  workers: number | null;
  kernels: string | null;
  samples: number;
  rounds: number;
  seconds: number;
  samples_per_s: number;
  cpu_seconds: number;
  samples_per_cpu_s: number;
  /** Median over rounds of (this samples/cpu-s) / (Python's samples/cpu-s in the same round), with min and max. */
  per_core_vs_python: { median: number; min: number; max: number } | null;
  /** Largest |difference| between this pipeline's first batch and the Python loop's (0: the same work, the same floats). */
  first_batch_max_abs_diff_vs_python: number | null;
}

interface Pipeline {
  impl: string;
  workers: number | null;
  kernels: string | null;
  run: () => Promise<{ n: number; wall: number; cpu: number }>;
  rounds: { n: number; wall: number; cpu: number }[];
  close: () => Promise<void> | void;
  firstBatch: Float32Array | null;
}

async function tsPipeline(trainData: string, workers: number, kernels: 'auto' | 'js'): Promise<Pipeline> {
  const loader: DataLoader = await createDataLoader({
    data: trainData, isTrain: false, numSamples: SAMPLES, batchSize: BATCH, workers,
    transform: { kind: 'preprocess', config: { image_size: 224 }, isTrain: false, kernels },
    tokenizer: { kind: 'tokenizer' }, log: (m) => console.error(m),
  });
  let firstBatch: Float32Array | null = null;
  const pass = async () => {
    let n = 0;
    for await (const b of loader.epoch(0)) {
      if (b.imageShape[2] !== 224 || b.imageShape[3] !== 224) throw new Error(`unexpected batch shape ${b.imageShape}`);
      n += b.imageShape[0];
      firstBatch ??= b.images.slice();
      loader.recycle(b);
    }
    if (n !== SAMPLES) throw new Error(`a pass produced ${n} of ${SAMPLES} samples`);
    return n;
  };
  await pass();
  const status = nativeImageStatus();
  const what = kernels === 'js' ? 'TypeScript resampler + sharp decode' : status.addon ? `native kernels${status.jpeg ? ' + libjpeg-turbo decode' : ' + sharp decode'}` : 'TypeScript + sharp (addon missing)';
  return {
    impl: `openclip-ts, ${workers === 0 ? 'in-process (--workers 0)' : `${workers} worker thread${workers > 1 ? 's' : ''}`}, ${what}`,
    workers, kernels: kernels === 'js' || !status.addon ? 'js' : 'native', rounds: [], firstBatch,
    run: async () => {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const n = await pass();
      return { n, wall: (performance.now() - t0) / 1000, cpu: cpuSeconds(c0) };
    },
    close: () => loader.close(),
  };
}

async function main(): Promise<void> {
  // One libvips thread per decode (as the Python side decodes on one thread); sharp is loaded lazily after this.
  process.env.VIPS_CONCURRENCY ??= '1';
  const work = mkdtempSync(join(tmpdir(), 'openclip-bench-pipeline-'));
  const load0 = loadavg();
  const pipelines: Pipeline[] = [];
  try {
    const made = await writeSyntheticDataset({ type: 'webdataset', out: work, numSamples: SAMPLES, shardSize: SHARD_SIZE, imageSize: 256, seed: 0, format: 'jpg' });
    // Shards of 64 = one batch, so every pipeline's first batch (eval order) is the first shard, as Python's.
    const firstDump = join(work, 'python-first-batch.f32');
    const py = await PythonLoop.start(PY, [JSON.stringify(expandUrls(made.trainData)), String(BATCH), firstDump]);
    const pyFirst = py ? new Float32Array(readFileSync(firstDump).buffer.slice(0)) : null;
    const pyPipe: Pipeline | null = py ? {
      impl: 'python tarfile + PIL + numpy, 1 process', workers: null, kernels: null, rounds: [], firstBatch: null,
      run: async () => {
        const [n, wall, cpu] = JSON.parse(await py.round('epoch')) as [number, number, number];
        return { n, wall, cpu };
      },
      close: () => py.close(),
    } : null;
    if (pyPipe) pipelines.push(pyPipe);
    for (const w of [0, 1, 2]) pipelines.push(await tsPipeline(made.trainData, w, 'auto'));
    pipelines.push(await tsPipeline(made.trainData, 1, 'js'));
    for (let r = 0; r < ROUNDS; r++) {
      for (const p of pipelines) p.rounds.push(await p.run());
      console.error(`round ${r + 1}/${ROUNDS} done (load average ${loadavg()[0].toFixed(1)})`);
    }
    const rows: Row[] = pipelines.map((p) => {
      const n = p.rounds[0].n;
      const s = median(p.rounds.map((x) => x.wall));
      const c = median(p.rounds.map((x) => x.cpu));
      let vs: Row['per_core_vs_python'] = null;
      if (pyPipe && p !== pyPipe) {
        const ratios = p.rounds.map((x, i) => (x.n / x.cpu) / (pyPipe.rounds[i].n / pyPipe.rounds[i].cpu));
        vs = { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
      }
      let diff: number | null = null;
      if (pyFirst && p.firstBatch) {
        diff = p.firstBatch.length === pyFirst.length ? 0 : Infinity;
        for (let i = 0; i < p.firstBatch.length && diff !== Infinity; i++) diff = Math.max(diff, Math.abs(p.firstBatch[i] - pyFirst[i]));
      }
      return {
        impl: p.impl, workers: p.workers, kernels: p.kernels, samples: n, rounds: ROUNDS, seconds: s, samples_per_s: n / s,
        cpu_seconds: c, samples_per_cpu_s: n / c, per_core_vs_python: vs, first_batch_max_abs_diff_vs_python: diff,
      };
    });
    const header = ['impl', 'samples', 'wall s', 'samples/s', 'cpu s', 'samples/cpu-s', 'per core vs python (min..max)', 'batch 0 vs python'];
    const table = rows.map((r) => [
      r.impl, String(r.samples), r.seconds.toFixed(2), r.samples_per_s.toFixed(0), r.cpu_seconds.toFixed(2), r.samples_per_cpu_s.toFixed(0),
      r.per_core_vs_python ? `${r.per_core_vs_python.median.toFixed(2)}x (${r.per_core_vs_python.min.toFixed(2)}..${r.per_core_vs_python.max.toFixed(2)})` : '',
      r.first_batch_max_abs_diff_vs_python === null ? '' : r.first_batch_max_abs_diff_vs_python === 0 ? 'identical' : `max |diff| ${r.first_batch_max_abs_diff_vs_python}`,
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
    const load1 = loadavg();
    console.log(`webdataset 256x256 JPEG shards -> [${BATCH},3,224,224] normalised batches (+ CLIP tokens on the openclip-ts side), ${ROUNDS} alternating rounds (medians), VIPS_CONCURRENCY=${process.env.VIPS_CONCURRENCY}, ${cpus().length} CPUs shared, load average ${load0[0].toFixed(1)} -> ${load1[0].toFixed(1)}`);
    console.log(`addon: ${nativeImageStatus().detail}`);
    console.log(line(header));
    for (const row of table) console.log(line(row));
    const outDir = join(repoRoot(), 'bench-results');
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'data-pipeline.json'), `${JSON.stringify({
      benchmark: 'webdataset shards of 256x256 JPEGs -> 224x224 normalised batches',
      date: new Date().toISOString(), node: process.version, cpus: cpus().length, vipsConcurrency: process.env.VIPS_CONCURRENCY,
      loadAverageStart: load0, loadAverageEnd: load1, addon: nativeImageStatus().detail, batch: BATCH, shardSize: SHARD_SIZE, rows,
      rounds: Object.fromEntries(pipelines.map((p) => [p.impl, p.rounds])),
    }, null, 2)}\n`);
  } finally {
    for (const p of pipelines) await p.close();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
