/**
 * Benchmark of the data pipeline on webdataset shards of 256x256 JPEGs producing 224x224 normalised
 * batches (OpenCLIP eval preprocessing: bicubic shortest-edge resize, center crop, normalise) plus CLIP
 * tokens, at 0 (in-process), 1 and 2 worker threads, beside a Python loop (tarfile + PIL + the same
 * resize/crop/normalise in numpy, batches stacked) on the same shards in the same run. Reports wall
 * samples/s and samples per CPU-second (process CPU time, all threads) and writes
 * bench-results/data-pipeline.json at the repo root.
 *
 *   npm run bench -w @openclip/data     (BENCH_ROUNDS, BENCH_SAMPLES to change the size)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { repoRoot } from '@openclip/test-config';
import { createDataLoader } from './pipeline/data-loader.js';
import { expandUrls } from './shards/brace-expand.js';
import { writeSyntheticDataset } from './synthetic/write-dataset.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 512);
const SHARD_SIZE = 64;
const BATCH = 64;

const PY = `
import io, json, sys, tarfile, time
import numpy as np
from PIL import Image
shards = json.loads(sys.argv[1]); rounds = int(sys.argv[2]); batch = int(sys.argv[3])
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
def epoch():
    n, imgs, caps = 0, [], []
    for s in samples():
        imgs.append(transform(s['jpg'])); caps.append(s['txt'].decode('utf-8'))
        if len(imgs) == batch:
            np.stack(imgs); n += len(imgs); imgs, caps = [], []
    if imgs: np.stack(imgs); n += len(imgs)
    return n
epoch()
out = []
for r in range(rounds):
    t0, c0 = time.perf_counter(), time.process_time()
    n = epoch()
    out.append([n, time.perf_counter() - t0, time.process_time() - c0])
print(json.dumps(out))
`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

interface Row {
  impl: string;
  workers: number | null;
  samples: number;
  rounds: number;
  seconds: number;
  samples_per_s: number;
  cpu_seconds: number;
  samples_per_cpu_s: number;
}

async function main(): Promise<void> {
  // One libvips thread per decode (as the Python side decodes on one thread); sharp is loaded lazily after this.
  process.env.VIPS_CONCURRENCY ??= '1';
  const work = mkdtempSync(join(tmpdir(), 'openclip-bench-pipeline-'));
  try {
    const made = await writeSyntheticDataset({ type: 'webdataset', out: work, numSamples: SAMPLES, shardSize: SHARD_SIZE, imageSize: 256, seed: 0, format: 'jpg' });
    const rows: Row[] = [];
    for (const workers of [0, 1, 2]) {
      const loader = await createDataLoader({
        data: made.trainData, isTrain: false, numSamples: SAMPLES, batchSize: BATCH, workers,
        transform: { kind: 'preprocess', config: { image_size: 224 }, isTrain: false },
        tokenizer: { kind: 'tokenizer' }, log: (m) => console.error(m),
      });
      try {
        const pass = async () => {
          let n = 0;
          for await (const b of loader.epoch(0)) {
            if (b.imageShape[2] !== 224 || b.imageShape[3] !== 224) throw new Error(`unexpected batch shape ${b.imageShape}`);
            n += b.imageShape[0];
            loader.recycle(b);
          }
          if (n !== SAMPLES) throw new Error(`a pass produced ${n} of ${SAMPLES} samples`);
          return n;
        };
        await pass();
        const wall: number[] = [];
        const cpu: number[] = [];
        for (let r = 0; r < ROUNDS; r++) {
          const c0 = process.cpuUsage();
          const t0 = performance.now();
          await pass();
          wall.push((performance.now() - t0) / 1000);
          const c = process.cpuUsage(c0);
          cpu.push((c.user + c.system) / 1e6);
        }
        const s = median(wall);
        const c = median(cpu);
        rows.push({
          impl: workers === 0 ? 'openclip-ts, in-process (--workers 0)' : `openclip-ts, ${workers} worker thread${workers > 1 ? 's' : ''}`,
          workers, samples: SAMPLES, rounds: ROUNDS, seconds: s, samples_per_s: SAMPLES / s, cpu_seconds: c, samples_per_cpu_s: SAMPLES / c,
        });
      } finally {
        await loader.close();
      }
    }
    const py = spawnSync('/usr/bin/python3', ['-c', PY, JSON.stringify(expandUrls(made.trainData)), String(ROUNDS), String(BATCH)], { encoding: 'utf8' });
    if (py.status !== 0) {
      console.error(`python loop failed (${py.stderr.trim().split('\n').pop()}); only openclip-ts rows are reported`);
    } else {
      const res = JSON.parse(py.stdout.trim().split('\n').pop()!) as [number, number, number][];
      const s = median(res.map((r) => r[1]));
      const c = median(res.map((r) => r[2]));
      rows.push({
        impl: 'python tarfile + PIL + numpy, 1 process', workers: null, samples: res[0][0], rounds: ROUNDS,
        seconds: s, samples_per_s: res[0][0] / s, cpu_seconds: c, samples_per_cpu_s: res[0][0] / c,
      });
    }
    const header = ['impl', 'samples', 'wall s', 'samples/s', 'cpu s', 'samples/cpu-s'];
    const table = rows.map((r) => [r.impl, String(r.samples), r.seconds.toFixed(2), r.samples_per_s.toFixed(0), r.cpu_seconds.toFixed(2), r.samples_per_cpu_s.toFixed(0)]);
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
    console.log(`webdataset 256x256 JPEG shards -> [${BATCH},3,224,224] normalised batches (+ CLIP tokens on the openclip-ts side), median of ${ROUNDS} passes, VIPS_CONCURRENCY=${process.env.VIPS_CONCURRENCY}, ${cpus().length} CPUs shared`);
    console.log(line(header));
    for (const row of table) console.log(line(row));
    const outDir = join(repoRoot(), 'bench-results');
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'data-pipeline.json'), `${JSON.stringify({
      benchmark: 'webdataset shards of 256x256 JPEGs -> 224x224 normalised batches',
      date: new Date().toISOString(), node: process.version, cpus: cpus().length, vipsConcurrency: process.env.VIPS_CONCURRENCY, loadAverage: loadavg(), batch: BATCH, shardSize: SHARD_SIZE, rows,
    }, null, 2)}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
