import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSyntheticDataset, classFolderName } from '../../src/synthetic/write-dataset.js';
import { SYNTHETIC_CLASSNAMES, syntheticSpec, encodeSynthetic } from '../../src/synthetic/shapes.js';
import { createDataLoader, type Batch } from '../../src/pipeline/data-loader.js';
import { charDetokenize, tempDir, TEST_HELPERS_URL } from '../../test-support/pipeline-fixtures.js';
import { shardSamples } from '../../src/sources/webdataset.js';
import type { Rng } from '@openclip/engine/rng';
import { buildTransform, type TransformSpec } from '../../src/pipeline/specs.js';

const PREPROCESS: TransformSpec = { kind: 'preprocess', config: { image_size: 8 }, isTrain: false };
const tokenizer = { kind: 'factory', module: TEST_HELPERS_URL, options: { contextLength: 40 } } as const;

async function all(it: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

test('webdataset layout: 00000.tar... with img2dataset keys, sizes.json, and the shards read back in order', async () => {
  const out = await tempDir();
  const r = await writeSyntheticDataset({ type: 'webdataset', out, numSamples: 25, shardSize: 10, imageSize: 16, seed: 4 });
  assert.equal(r.shards, 3);
  assert.deepEqual((await readdir(out)).sort(), ['00000.tar', '00001.tar', '00002.tar', 'sizes.json']);
  assert.deepEqual(JSON.parse(await readFile(join(out, 'sizes.json'), 'utf8')), { '00000.tar': 10, '00001.tar': 10, '00002.tar': 5 });
  const keys: string[] = [];
  for (let s = 0; s < 3; s++) {
    for await (const ev of shardSamples(join(out, `0000${s}.tar`))) {
      assert.equal(ev.kind, 'sample');
      if (ev.kind !== 'sample') continue;
      keys.push(ev.sample.key);
      const i = s * 10 + Number(ev.sample.key.slice(5));
      assert.deepEqual([...ev.sample.parts.keys()], ['jpg', 'txt', 'json', 'cls']);
      assert.equal(new TextDecoder().decode(ev.sample.parts.get('txt')), syntheticSpec(4, i).caption);
      assert.ok(Buffer.from(ev.sample.parts.get('jpg')!).equals(Buffer.from((await encodeSynthetic(4, i, 16, 'jpg')).bytes)));
    }
  }
  assert.equal(keys[0], '000000000');
  assert.equal(keys[24], '000020004');
  // The spec it reports is what --train-data takes; sizes come from sizes.json.
  const loader = await createDataLoader({ data: r.trainData, isTrain: false, batchSize: 10, workers: 0, numSamples: 25, transform: PREPROCESS, tokenizer });
  const batches = await all(loader.epoch(0));
  assert.deepEqual(batches.map((b) => b.keys.length), [10, 10, 5]);
  assert.deepEqual([...batches[2].labels!], [20, 21, 22, 23, 24].map((i) => syntheticSpec(4, i).label));
});

test('csv layout trains over 2 ranks with DistributedSampler coverage; captions and tokens stay aligned', async () => {
  const out = await tempDir();
  const r = await writeSyntheticDataset({ type: 'csv', out, numSamples: 24, imageSize: 16, seed: 2, format: 'png' });
  const text = await readFile(r.trainData, 'utf8');
  assert.equal(text.split('\n')[0], 'filepath\ttitle\tlabel');
  const seen: string[] = [];
  for (const rank of [0, 1]) {
    const loader = await createDataLoader({ data: r.trainData, isTrain: true, batchSize: 4, workers: 0, rank, worldSize: 2, seed: 9, transform: PREPROCESS, tokenizer });
    assert.equal(loader.datasetType, 'csv');
    assert.equal(loader.numBatches, 3);
    const batches = await all(loader.epoch(1));
    assert.equal(batches.length, 3);
    for (const b of batches) {
      b.keys.forEach((k, j) => assert.equal(charDetokenize(b.tokens!.subarray(j * 40, (j + 1) * 40)), syntheticSpec(2, Number(k)).caption));
      seen.push(...b.keys);
    }
  }
  assert.deepEqual(seen.map(Number).sort((a, b) => a - b), Array.from({ length: 24 }, (_, i) => i));
});

test('imagefolder layout: class folders sort like SYNTHETIC_CLASSNAMES, so folder labels are the synthetic labels', async () => {
  const out = await tempDir();
  await assert.rejects(writeSyntheticDataset({ type: 'imagefolder', out, numSamples: 10 }), /needs --num-samples >= 36/);
  const r = await writeSyntheticDataset({ type: 'imagefolder', out, numSamples: 40, imageSize: 16, seed: 6 });
  const loader = await createDataLoader({ data: r.trainData, datasetType: 'imagefolder', isTrain: false, batchSize: 16, workers: 0, transform: PREPROCESS });
  assert.deepEqual(loader.classes, SYNTHETIC_CLASSNAMES.map(classFolderName));
  const batches = await all(loader.epoch(0));
  assert.deepEqual(batches.map((b) => b.keys.length), [16, 16, 8]);
  assert.equal(batches[0].tokens, undefined);
  const byIndex = new Map<number, number>();
  for (const b of batches) b.keys.forEach((k, j) => byIndex.set(Number(k.match(/(\d+)\.jpg$/)![1]), b.labels![j]));
  assert.equal(byIndex.size, 40);
  for (const [i, label] of byIndex) assert.equal(label, syntheticSpec(6, i).label);
});

test('the synthetic source runs directly (no files) with worker threads and the real preprocessing', async () => {
  const loader = await createDataLoader({
    datasetType: 'synthetic', isTrain: true, batchSize: 5, workers: 2, numSamples: 20, seed: 1, syntheticImageSize: 32,
    transform: { kind: 'preprocess', config: { image_size: 16 }, isTrain: true }, tokenizer: { kind: 'tokenizer' },
  });
  try {
    assert.equal(loader.numBatches, 4);
    const batches = await all(loader.epoch(0));
    assert.deepEqual(batches.map((b) => b.worker), [0, 1, 0, 1]);
    assert.deepEqual(batches[0].imageShape, [5, 3, 16, 16]);
    assert.deepEqual(batches[0].tokenShape, [5, 77]);
    const keys = batches.flatMap((b) => b.keys).map(Number).sort((a, b) => a - b);
    assert.deepEqual(keys, Array.from({ length: 20 }, (_, i) => i));
    // CLIP BPE rows start with <start_of_text> (49406) and contain <end_of_text> (49407).
    for (let j = 0; j < 5; j++) {
      const row = batches[0].tokens!.subarray(j * 77, (j + 1) * 77);
      assert.equal(row[0], 49406);
      assert.ok(row.includes(49407));
    }
    for (const b of batches) b.keys.forEach((k, j) => assert.equal(b.labels![j], syntheticSpec(1, Number(k)).label));
  } finally {
    await loader.close();
  }
});

test('synthetic PNG samples handed over as pixels give the same batches as through encode + decode', async () => {
  const { imageTransform } = await import('../../src/image/image-transform.js');
  const aug = { scale: [0.3, 1.0], color_jitter: [0.4, 0.4, 0.4, 0.1], color_jitter_prob: 0.8, gray_scale_prob: 0.2 };
  const t = imageTransform({ image_size: 24 }, { isTrain: true, aug });
  let throughBytes = 0;
  const bytesOnly = async (bytes: Uint8Array, source: string, out?: Float32Array, rng?: Rng) => {
    throughBytes++;
    return t(bytes, { source, out, rng });
  };
  const run = async (transform: Parameters<typeof createDataLoader>[0]['transform']) => {
    const loader = await createDataLoader({
      datasetType: 'synthetic', isTrain: true, batchSize: 6, workers: 0, numSamples: 24, seed: 3, syntheticImageSize: 40, syntheticFormat: 'png',
      transform, tokenizer: (texts: string[]) => ({ data: new Int32Array(texts.length), shape: [texts.length, 1] }),
    });
    try {
      return (await all(loader.epoch(1))).map((b) => Array.from(b.images));
    } finally {
      await loader.close();
    }
  };
  const spec: TransformSpec = { kind: 'preprocess', config: { image_size: 24 }, isTrain: true, aug };
  assert.equal(typeof (await buildTransform(spec)).decoded, 'function', 'the preprocess transform takes decoded pixels');
  const viaPixels = await run(spec);
  const viaBytes = await run(bytesOnly);
  assert.equal(throughBytes, 24);
  assert.equal(viaPixels.length, 4);
  assert.deepEqual(viaPixels, viaBytes);
});
