/**
 * What one training batch of the README demo costs the data workers, per source: CPU milliseconds
 * per batch of 64 samples at 64 px (`openclip train --model ViT-Tiny-8-64-demo`'s data: the train
 * transform — RandomResizedCrop, bicubic, normalise — and CLIP BPE tokens at context 77) from the
 * synthetic source (PNG, as `--dataset-type synthetic`), a CSV dataset and webdataset shards (64 px
 * JPEGs, as `openclip make-dataset` writes them). Runs in the calling thread (`workers: 0`), so the
 * process CPU time is the pipeline's alone; a training step of the demo model takes ~420 ms on 2 cores,
 * so a batch costing a few tens of ms keeps up with room to spare. Rounds alternate between sources;
 * medians. Writes bench-results/data-sources.json.
 *
 *   node dist-test/bench/sources.js     (BENCH_ROUNDS, default 5; BENCH_BATCHES per round, default 8)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { repoRoot } from '@openclip/test-config';
import { cpuSeconds, median } from './python-loop.js';
import { createDataLoader, type DataLoader, type DataLoaderOptions } from '../src/pipeline/data-loader.js';
import { writeSyntheticDataset } from '../src/synthetic/write-dataset.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BATCHES = Number(process.env.BENCH_BATCHES ?? 8);
const BATCH = 64;
const SAMPLES = 4096;

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'openclip-bench-sources-'));
  try {
    const csv = await writeSyntheticDataset({ type: 'csv', out: join(work, 'csv'), numSamples: 1024, imageSize: 64, format: 'jpg' });
    const wds = await writeSyntheticDataset({ type: 'webdataset', out: join(work, 'wds'), numSamples: 1024, shardSize: 128, imageSize: 64, format: 'jpg' });
    const common: Omit<DataLoaderOptions, 'data' | 'datasetType'> = {
      isTrain: true, batchSize: BATCH, workers: 0, seed: 0, numSamples: SAMPLES, syntheticImageSize: 64,
      transform: { kind: 'preprocess', config: { image_size: 64 }, isTrain: true },
      tokenizer: { kind: 'tokenizer', contextLength: 77 },
      // a small sample buffer: this measures per-sample work, not the buffer's initial fill
      shuffleSize: 64, shuffleInitial: 64,
    };
    const loaders: [string, DataLoader][] = [
      ['synthetic (png)', await createDataLoader({ ...common, datasetType: 'synthetic' })],
      ['csv (jpg)', await createDataLoader({ ...common, data: csv.trainData, datasetType: 'csv', numSamples: null })],
      ['webdataset (jpg)', await createDataLoader({ ...common, data: wds.trainData, datasetType: 'webdataset' })],
    ];
    const perBatch = new Map<string, number[]>(loaders.map(([k]) => [k, []]));
    const wall = new Map<string, number[]>(loaders.map(([k]) => [k, []]));
    const load0 = loadavg()[0];
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, loader] of loaders) {
        let n = 0;
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        for await (const b of loader.epoch(round)) {
          loader.recycle(b);
          if (++n === BATCHES) break;
        }
        if (round === 0) continue; // warm-up: JIT, tokenizer cache
        perBatch.get(name)!.push((1000 * cpuSeconds(c0)) / n);
        wall.get(name)!.push((performance.now() - t0) / n);
      }
    }
    const load1 = loadavg()[0];
    console.log(`data sources: CPU ms per train batch of ${BATCH} at 64 px, in-process; median of ${ROUNDS - 1} rounds x ${BATCHES} batches; load average ${load0.toFixed(1)} -> ${load1.toFixed(1)}`);
    console.log('source             cpu ms/batch  wall ms/batch  cpu ms/sample');
    const rows = loaders.map(([name]) => {
      const cpu = median(perBatch.get(name)!);
      const w = median(wall.get(name)!);
      console.log(`${name.padEnd(18)}${cpu.toFixed(1).padStart(13)}${w.toFixed(1).padStart(15)}${(cpu / BATCH).toFixed(3).padStart(15)}`);
      return { source: name, batch: BATCH, image_size: 64, cpu_ms_per_batch: cpu, wall_ms_per_batch: w, load_before: load0, load_after: load1 };
    });
    for (const [, l] of loaders) await l.close();
    const out = join(repoRoot(), 'bench-results');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'data-sources.json'), JSON.stringify(rows, null, 2) + '\n');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
