import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createDataLoader, type Batch, type DataLoaderOptions } from '../../src/pipeline/data-loader.js';
import charTokenizer, { charDetokenize, tempDir, tinyImage, writeTarFile, TEST_HELPERS_URL, type ShardMember } from '../../test-support/pipeline-fixtures.js';
import type { TokenizerSpec, TransformSpec } from '../../src/pipeline/specs.js';
import { UNKNOWN_SIZE_MESSAGE } from '../../src/shards/dataset-size.js';

const PREPROCESS: TransformSpec = { kind: 'preprocess', config: { image_size: 8 }, isTrain: false };
const CHAR_TOKENIZER: TokenizerSpec = { kind: 'factory', module: TEST_HELPERS_URL, options: { contextLength: 24 } };

/** `numShards` shards of `perShard` samples keyed `s<shard>_<i>`, with sizes.json. */
async function makeShards(numShards: number, perShard: number, prefix = 's'): Promise<{ dir: string; spec: string; keys: string[] }> {
  const dir = await tempDir();
  const sizes: Record<string, number> = {};
  const keys: string[] = [];
  for (let s = 0; s < numShards; s++) {
    const members: ShardMember[] = [];
    for (let i = 0; i < perShard; i++) {
      const key = `${prefix}${s}_${i}`;
      keys.push(key);
      members.push({ name: `${key}.jpg`, data: await tinyImage(s * perShard + i, 16) }, { name: `${key}.txt`, data: `cap ${key}` });
    }
    const name = `${prefix}-${String(s).padStart(3, '0')}.tar`;
    await writeTarFile(join(dir, name), members);
    sizes[name] = perShard;
  }
  await writeFile(join(dir, 'sizes.json'), JSON.stringify(sizes));
  return { dir, keys, spec: join(dir, `${prefix}-{000..${String(numShards - 1).padStart(3, '0')}}.tar`) };
}

async function collect(it: AsyncIterable<Batch>, limit = Infinity): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) {
    out.push(b);
    if (out.length >= limit) break;
  }
  return out;
}

function checkAlignment(batches: Batch[]): void {
  for (const b of batches) {
    const ctx = b.tokenShape![1];
    b.keys.forEach((k, i) => assert.equal(charDetokenize(b.tokens!.subarray(i * ctx, (i + 1) * ctx)), `cap ${k}`.slice(0, ctx)));
  }
}

test('webdataset epochs: 2 ranks x 2 worker threads see every sample exactly once per epoch, reshuffled each epoch', async () => {
  const { spec, keys } = await makeShards(8, 6);
  const base: DataLoaderOptions = { data: spec, isTrain: true, batchSize: 3, workers: 2, worldSize: 2, seed: 3, transform: PREPROCESS, tokenizer: CHAR_TOKENIZER, shuffleSize: 8, shuffleInitial: 4, log: () => {} };
  const loaders = await Promise.all([0, 1].map((rank) => createDataLoader({ ...base, rank })));
  try {
    assert.equal(loaders[0].numBatches, 8);
    assert.equal(loaders[0].numSamples, 48);
    const orders: string[][] = [];
    for (const epoch of [0, 1]) {
      const seen: string[] = [];
      for (const l of loaders) {
        const batches = await collect(l.epoch(epoch));
        assert.equal(batches.length, l.numBatches);
        assert.deepEqual(batches.map((b) => b.worker), [0, 1, 0, 1, 0, 1, 0, 1], 'batches alternate between workers');
        for (const b of batches) assert.deepEqual(b.imageShape, [3, 3, 8, 8]);
        checkAlignment(batches);
        seen.push(...batches.flatMap((b) => b.keys));
      }
      assert.deepEqual(seen.slice().sort(), keys.slice().sort(), `epoch ${epoch}: each sample once`);
      orders.push(seen);
    }
    assert.notDeepEqual(orders[0], orders[1]);
    const again = await collect(loaders[0].epoch(0));
    assert.deepEqual(again.flatMap((b) => b.keys), orders[0].slice(0, 24), 'an epoch replays identically');
  } finally {
    await Promise.all(loaders.map((l) => l.close()));
  }
});

test('a saved position resumes mid-epoch with exactly the remaining batches (worker threads)', async () => {
  const { spec } = await makeShards(4, 9);
  const opts: DataLoaderOptions = { data: spec, isTrain: true, batchSize: 4, workers: 2, seed: 1, transform: PREPROCESS, tokenizer: CHAR_TOKENIZER, shuffleSize: 10, shuffleInitial: 3, log: () => {} };
  const full = await createDataLoader(opts);
  const partial = await createDataLoader(opts);
  const resumed = await createDataLoader(opts);
  try {
    const all = (await collect(full.epoch(2))).map((b) => b.keys);
    assert.equal(all.length, full.numBatches);
    await collect(partial.epoch(2), 3);
    const pos = partial.position();
    assert.equal(pos.batch, 3);
    assert.equal(pos.epoch, 2);
    const rest = await collect(resumed.epoch(2, { resume: JSON.parse(JSON.stringify(pos)) }));
    assert.deepEqual(rest.map((b) => b.keys), all.slice(3));
    assert.deepEqual(rest.map((b) => b.index), all.slice(3).map((_, i) => i + 3));
    await assert.rejects(collect(resumed.epoch(3, { resume: pos })), /data position is for epoch 2, not 3/);
  } finally {
    await Promise.all([full.close(), partial.close(), resumed.close()]);
  }
});

test('bad samples are skipped, counted by reason and the first ones reported by name', async () => {
  const dir = await tempDir();
  const img = await tinyImage(1, 16);
  const ok = (k: string): ShardMember[] => [{ name: `${k}.jpg`, data: img }, { name: `${k}.txt`, data: `cap ${k}` }];
  await writeTarFile(join(dir, 'a.tar'), [
    ...ok('k1'),
    { name: 'k2.jpg', data: 'this is not an image' }, { name: 'k2.txt', data: 'corrupt' },
    { name: 'k3.jpg', data: img }, { name: 'k3.txt', data: '   ' },
    { name: 'k4.jpg', data: img },
    { name: 'k5.txt', data: 'no image' },
    ...ok('k6'),
    ...ok('k7'),
  ]);
  // The second shard breaks inside k9's image: k8 survives, the shard error is counted.
  const big = new Uint8Array(4000).fill(1);
  await writeTarFile(join(dir, 'b.tar'), [...ok('k8'), { name: 'k9.jpg', data: big }, { name: 'k9.txt', data: 'x' }], 512 + 1024 + 3000);
  const logs: string[] = [];
  const loader = await createDataLoader({
    data: join(dir, '{a,b}.tar'), isTrain: false, batchSize: 2, workers: 0, numSamples: 9, reportFirst: 3,
    transform: PREPROCESS, tokenizer: charTokenizer({ contextLength: 12 }), log: (m) => logs.push(m),
  });
  const batches = await collect(loader.epoch(0));
  assert.deepEqual(batches.map((b) => b.keys), [['k1', 'k6'], ['k7', 'k8']]);
  const st = loader.stats();
  assert.deepEqual(st.byReason, { 'corrupt-image': 1, 'empty-caption': 1, 'missing-part': 2, 'unreadable-file': 0, 'shard-error': 1 });
  assert.equal(st.samples, 4);
  assert.deepEqual(st.first.map((e) => e.reason), ['corrupt-image', 'empty-caption', 'missing-part']);
  assert.match(logs[0], /a\.tar#k2: corrupt-image \(cannot decode image/);
  assert.ok(logs.some((l) => /further skips are counted/.test(l)));
  assert.match(logs[logs.length - 1], /epoch 0: skipped 4 samples so far \(corrupt-image 1, empty-caption 1, missing-part 2, shard-error 1\)/);
});

test('resampled sources mix by upsampling factor through the whole pipeline (chi-square)', async () => {
  const a = await makeShards(2, 1, 'a');
  const b = await makeShards(6, 1, 'b');
  const spec = `${a.spec}::${b.spec}`;
  const count = async (factors: string | null) => {
    const l = await createDataLoader({
      data: spec, isTrain: true, datasetResampled: true, upsamplingFactors: factors, batchSize: 20, workers: 0, numSamples: 400, seed: 5,
      shuffleSize: 0, transform: PREPROCESS, tokenizer: charTokenizer({ contextLength: 4 }), log: () => {},
    });
    const keys = (await collect(l.epoch(0))).flatMap((x) => x.keys);
    assert.equal(keys.length, 400);
    return keys.filter((k) => k.startsWith('a')).length;
  };
  const chi = (nA: number, p: number) => (nA - 400 * p) ** 2 / (400 * p) + (400 - nA - 400 * (1 - p)) ** 2 / (400 * (1 - p));
  const byDefault = await count(null);
  assert.ok(chi(byDefault, 0.25) < 10.83, `default mix: ${byDefault}/400 from source a, expected 100`);
  const weighted = await count('3::1');
  assert.ok(chi(weighted, 0.5) < 10.83, `3::1 mix: ${weighted}/400 from source a, expected 200`);
});

test('start-up errors: missing shard, too few shards, unknown size, factors without resampling, functions with threads', async () => {
  const { dir, spec } = await makeShards(2, 2);
  const base: DataLoaderOptions = { data: spec, isTrain: true, batchSize: 2, workers: 0, transform: PREPROCESS, tokenizer: CHAR_TOKENIZER };
  await assert.rejects(createDataLoader({ ...base, data: join(dir, 's-{000..002}.tar') }), /shard not found: .*s-002\.tar/);
  await assert.rejects(createDataLoader({ ...base, workers: 2, worldSize: 2 }), /number of shards must be >= total workers: 2 shards < 2 workers x 2 ranks/);
  await assert.rejects(createDataLoader({ ...base, data: `${spec}::${spec}`, upsamplingFactors: '1::2' }), /only supported when sampling with replacement/);
  await assert.rejects(createDataLoader({ ...base, datasetResampled: true, data: `${spec}::${spec}`, upsamplingFactors: '1' }), /Expected the number of data components \(2\) and weights\(1\) to match/);
  await assert.rejects(createDataLoader({ ...base, workers: 1, transform: () => ({ data: new Float32Array(3), shape: [3, 1, 1] }) }), /need the transform and tokenizer as specs/);
  const noSize = await tempDir();
  await writeTarFile(join(noSize, '0.tar'), []);
  await assert.rejects(createDataLoader({ ...base, data: join(noSize, '0.tar') }), (e: Error) => e.message === UNKNOWN_SIZE_MESSAGE);
  await assert.rejects(createDataLoader({ ...base, data: join(dir, 'x.json') }), /failed for extension json/);
  await assert.rejects(
    createDataLoader({ ...base, workers: 1, transform: { kind: 'factory', module: 'file:///nonexistent/transform.js' } }),
    /data worker 0: image transform: cannot import 'file:\/\/\/nonexistent\/transform\.js'/,
  );
  const l = await createDataLoader(base);
  const first = l.epoch(0);
  await first.next();
  await assert.rejects(l.epoch(0).next(), /another epoch of this data loader is still being iterated/);
  await first.return(undefined);
  assert.equal((await l.epoch(0).next()).done, false);
});

test('recycled batch arrays are reused and the pixels stay right (in-process and worker threads)', async () => {
  const { spec } = await makeShards(4, 6);
  const sums = async (workers: number, recycle: boolean) => {
    const l = await createDataLoader({ data: spec, isTrain: true, batchSize: 3, workers, seed: 2, numSamples: 24, shuffleSize: 4, shuffleInitial: 2, transform: PREPROCESS, tokenizer: CHAR_TOKENIZER, log: () => {} });
    const out = new Map<string, number>();
    const buffers = new Set<ArrayBufferLike>();
    let reused = 0;
    try {
      for await (const b of l.epoch(0)) {
        if (buffers.has(b.images.buffer)) reused++;
        buffers.add(b.images.buffer);
        const per = b.images.length / b.keys.length;
        b.keys.forEach((k, j) => out.set(k, b.images.subarray(j * per, (j + 1) * per).reduce((a, x, i) => a + x * ((i % 97) + 1), 0)));
        if (recycle) l.recycle(b);
      }
    } finally {
      await l.close();
    }
    return { out, reused };
  };
  const plain = await sums(0, false);
  const inProcess = await sums(0, true);
  assert.deepEqual(inProcess.out, plain.out);
  assert.ok(inProcess.reused > 0, 'in-process batches reuse recycled arrays');
  const threads = await sums(2, true);
  assert.equal(threads.out.size, 24);
  for (const [k, v] of threads.out) assert.ok(Math.abs(v - plain.out.get(k)!) < 1e-3, k);
});
