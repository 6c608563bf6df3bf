// Training augmentations are a function of (seed, epoch, sample), not of decode timing or where an
// epoch starts: two loaders give byte-identical batches, with or without worker threads, and a
// resumed epoch continues with the same crops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createDataLoader } from '../../src/pipeline/data-loader.js';

async function digests(workers: number, resumeAt?: number): Promise<string[]> {
  const dl = await createDataLoader({
    datasetType: 'synthetic', isTrain: true, batchSize: 8, workers, seed: 11, numSamples: 32, syntheticImageSize: 24,
    transform: { kind: 'preprocess', config: { image_size: 24 }, isTrain: true, aug: { scale: [0.3, 1.0] } },
    tokenizer: { kind: 'tokenizer', contextLength: 8 },
  });
  const out: string[] = [];
  try {
    for (const epoch of [0, 1]) {
      let resume = null;
      if (resumeAt !== undefined && epoch === 1) {
        // run the first batches, take the position, and continue from it with a fresh loader
        for await (const b of dl.epoch(1)) if (b.index + 1 === resumeAt) break;
        resume = dl.position();
        const again = await createDataLoader({
          datasetType: 'synthetic', isTrain: true, batchSize: 8, workers, seed: 11, numSamples: 32, syntheticImageSize: 24,
          transform: { kind: 'preprocess', config: { image_size: 24 }, isTrain: true, aug: { scale: [0.3, 1.0] } },
          tokenizer: { kind: 'tokenizer', contextLength: 8 },
        });
        try {
          for await (const b of again.epoch(1, { resume })) out.push(`${epoch}:${b.index}:${createHash('md5').update(new Uint8Array(b.images.buffer, b.images.byteOffset, b.images.byteLength)).digest('hex')}`);
        } finally {
          await again.close();
        }
        continue;
      }
      for await (const b of dl.epoch(epoch)) out.push(`${epoch}:${b.index}:${createHash('md5').update(new Uint8Array(b.images.buffer, b.images.byteOffset, b.images.byteLength)).digest('hex')}`);
    }
  } finally {
    await dl.close();
  }
  return out;
}

test('train batches are identical across runs and worker counts; epochs differ', async () => {
  const a = await digests(0);
  assert.deepEqual(await digests(0), a);
  assert.deepEqual(await digests(1), a);
  assert.notDeepEqual(a.filter((d) => d.startsWith('0:')).map((d) => d.slice(2)), a.filter((d) => d.startsWith('1:')).map((d) => d.slice(2)));
});

test('a resumed epoch continues with the same augmented batches', async () => {
  const a = await digests(1);
  const r = await digests(1, 2);
  assert.deepEqual(r, a.filter((d) => !d.startsWith('1:0:') && !d.startsWith('1:1:')));
});
