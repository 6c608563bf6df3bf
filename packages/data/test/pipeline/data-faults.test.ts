/**
 * Fault suite for the data pipeline: all-bad data stops with a clear error instead of spinning,
 * the skip ratio is bounded by --max-skip-ratio, a bad sample drawn again is counted once, and
 * --workers is capped. Every epoch iteration here is bounded in time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createDataLoader, type Batch, type DataLoaderOptions } from '../../src/pipeline/data-loader.js';
import { TEST_HELPERS_URL, tempDir, tinyImage, writeTarFile, type ShardMember } from '../../test-support/pipeline-fixtures.js';
import type { TokenizerSpec, TransformSpec } from '../../src/pipeline/specs.js';
import { capWorkers, maxWorkers } from '../../src/pipeline/worker-cap.js';

const PREPROCESS: TransformSpec = { kind: 'preprocess', config: { image_size: 8 }, isTrain: false };
const CHAR_TOKENIZER: TokenizerSpec = { kind: 'factory', module: TEST_HELPERS_URL, options: { contextLength: 24 } };

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish in ${ms} ms (spinning?)`)), ms)))]).finally(() => clearTimeout(timer));
}

async function drain(it: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

/** A CSV of `n` rows whose row i has a real image when `good(i)`, else a missing file. */
async function csv(n: number, good: (i: number) => boolean): Promise<string> {
  const dir = await tempDir();
  const lines = ['filepath\ttitle'];
  for (let i = 0; i < n; i++) {
    if (good(i)) await writeFile(join(dir, `${i}.jpg`), await tinyImage(i, 16));
    lines.push(`${i}.jpg\tcaption ${i}`);
  }
  await writeFile(join(dir, 'train.csv'), lines.join('\n') + '\n');
  return join(dir, 'train.csv');
}

const base = (data: string, extra: Partial<DataLoaderOptions> = {}): DataLoaderOptions => ({ data, isTrain: true, batchSize: 4, workers: 0, seed: 1, transform: PREPROCESS, tokenizer: CHAR_TOKENIZER, log: () => {}, ...extra });

for (const workers of [0, 1]) {
  test(`a CSV whose images are all missing stops with a clear error (workers ${workers}, --max-skip-ratio 1 too)`, async () => {
    const file = await csv(8, () => false);
    for (const maxSkipRatio of [undefined, 1]) {
      const l = await createDataLoader(base(file, { workers, maxSkipRatio }));
      try {
        await assert.rejects(within(drain(l.epoch(0)), 20_000, 'the epoch'), /a full pass over this worker's share of the data \(8 samples\) yielded no loadable sample \(unreadable-file 8\)/);
      } finally {
        await l.close();
      }
    }
  });
}

test('a webdataset shard without captions stops with a clear error', async () => {
  const dir = await tempDir();
  const members: ShardMember[] = [];
  for (let i = 0; i < 6; i++) members.push({ name: `k${i}.jpg`, data: await tinyImage(i, 16) });
  await writeTarFile(join(dir, 'a.tar'), members);
  const l = await createDataLoader(base(join(dir, 'a.tar'), { datasetType: 'webdataset', numSamples: 12, workers: 1, shuffleSize: 1, maxSkipRatio: 1 }));
  try {
    await assert.rejects(within(drain(l.epoch(0)), 20_000, 'the epoch'), /data worker 0: a full pass .*\(6 samples\) yielded no loadable sample \(missing-part 6\)/);
  } finally {
    await l.close();
  }
});

test('--max-skip-ratio: mostly broken data stops, naming the ratio; a higher limit lets it run', async () => {
  const file = await csv(120, (i) => i % 10 < 3); // 70% missing
  const logs: string[] = [];
  const l = await createDataLoader(base(file, { log: (m) => logs.push(m) }));
  try {
    await assert.rejects(within(drain(l.epoch(0)), 30_000, 'the epoch'), /of the \d+ samples read this epoch could not be loaded \(unreadable-file \d+\), more than --max-skip-ratio 0\.5 allows/);
  } finally {
    await l.close();
  }
  assert.ok(logs.some((m) => /skipped sample .*unreadable-file/.test(m)), 'the first bad samples are named');
  const ok = await createDataLoader(base(file, { maxSkipRatio: 0.8 }));
  try {
    const batches = await within(drain(ok.epoch(0)), 30_000, 'the epoch');
    assert.equal(batches.length, ok.numBatches);
  } finally {
    await ok.close();
  }
  await assert.rejects(createDataLoader(base(file, { maxSkipRatio: 2 })), /--max-skip-ratio must be between 0 and 1, got 2/);
});

test('a bad sample drawn again to make up a batch is counted and reported once', async () => {
  // 8 rows, 4 missing: each pass yields 4 good samples, the epoch needs 8, so the stream wraps once
  const file = await csv(8, (i) => i % 2 === 0);
  const logs: string[] = [];
  const l = await createDataLoader(base(file, { maxSkipRatio: 1, log: (m) => logs.push(m), reportFirst: 100 }));
  try {
    const batches = await within(drain(l.epoch(0)), 20_000, 'the epoch');
    assert.equal(batches.length, 2);
    assert.equal(l.stats().samples, 4);
    assert.equal(logs.filter((m) => m.startsWith('skipped sample')).length, 4);
  } finally {
    await l.close();
  }
});

test('--workers far above the CPU count is capped with one warning', async () => {
  const warnings: string[] = [];
  assert.equal(capWorkers(1000, (m) => warnings.push(m), 2), 4);
  assert.equal(capWorkers(4, (m) => warnings.push(m), 2), 4);
  assert.equal(capWorkers(12, (m) => warnings.push(m), 16), 12);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /--workers 1000 is more than this machine can use \(2 CPUs\); using 4 worker threads/);
  const file = await csv(8, () => true);
  const logs: string[] = [];
  const l = await createDataLoader(base(file, { workers: 1000, log: (m) => logs.push(m) }));
  try {
    assert.equal(l.workerCount, maxWorkers());
    assert.equal(logs.filter((m) => m.includes('--workers 1000')).length, 1);
    assert.equal((await within(drain(l.epoch(0)), 20_000, 'the epoch')).length, 2);
  } finally {
    await l.close();
  }
});
