// `prepare(epoch)` starts the workers ahead of `epoch()`: the batches must be exactly those of an
// unprepared epoch, also when the prepared epoch or position is not the one iterated next.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createDataLoader, type Batch, type DataLoader, type DataPosition } from '../../src/pipeline/data-loader.js';

async function open(workers: number): Promise<DataLoader> {
  return createDataLoader({
    datasetType: 'synthetic', isTrain: true, batchSize: 6, workers, seed: 5, numSamples: 36, syntheticImageSize: 24,
    transform: { kind: 'preprocess', config: { image_size: 16 }, isTrain: true, aug: { scale: [0.3, 1.0] } },
    tokenizer: { kind: 'tokenizer', contextLength: 8 },
  });
}

const digest = (b: Batch) =>
  `${b.index}:${b.worker}:${b.keys.join(',')}:${createHash('md5').update(new Uint8Array(b.images.buffer, b.images.byteOffset, b.images.byteLength)).digest('hex')}`;

async function run(loader: DataLoader, epoch: number, resume?: DataPosition, stopAfter = Infinity): Promise<string[]> {
  const out: string[] = [];
  for await (const b of loader.epoch(epoch, { resume })) {
    out.push(digest(b));
    if (out.length >= stopAfter) break;
  }
  return out;
}

for (const workers of [0, 2]) {
  test(`prepared epochs give the batches of unprepared ones (workers ${workers})`, async () => {
    const plain = await open(workers);
    const ahead = await open(workers);
    try {
      const expected = [await run(plain, 0), await run(plain, 1), await run(plain, 2)];
      const first = await run(plain, 1, undefined, 2);
      const position = plain.position();
      const rest = await run(plain, 1, position);
      assert.deepEqual([...first, ...rest], expected[1]);

      await ahead.prepare(0);
      assert.deepEqual(await run(ahead, 0), expected[0]);
      await ahead.prepare(1);
      assert.deepEqual(await run(ahead, 1), expected[1]);
      // prepared for another epoch, or prepared twice: the iterated epoch is still exact
      await ahead.prepare(4);
      assert.deepEqual(await run(ahead, 2), expected[2]);
      await ahead.prepare(2);
      await ahead.prepare(1);
      assert.deepEqual(await run(ahead, 1), expected[1]);
      // a resume position: prepared with it, and prepared without it but resumed with it
      await ahead.prepare(1, { resume: position });
      assert.deepEqual(await run(ahead, 1, position), rest);
      await ahead.prepare(1);
      assert.deepEqual(await run(ahead, 1, position), rest);
      // not while an epoch is being iterated
      const it = ahead.epoch(0);
      await it.next();
      await assert.rejects(ahead.prepare(1), /cannot prepare an epoch while another epoch/);
      await it.return(undefined);
      assert.deepEqual(await run(ahead, 0), expected[0]);
    } finally {
      await plain.close();
      await ahead.close();
    }
  });
}
