import { test } from 'node:test';
import assert from 'node:assert/strict';
import { produceBatches, type WorkerBatch } from '../../src/pipeline/batcher.js';
import type { RawItem } from '../../src/pipeline/sample-stream.js';
import type { SkipEvent } from '../../src/pipeline/skip-stats.js';
import type { TransformFn } from '../../src/pipeline/specs.js';

/** Items k0..k(n-1); `bad` keys fail to transform; the image of ki is [i, i, i] (shape [3,1,1]). */
async function* items(n: number): AsyncGenerator<RawItem> {
  for (let i = 0; i < n; i++) yield { kind: 'sample', where: `w${i}`, key: `k${i}`, text: `t${i}`, load: () => new Uint8Array([i]) };
}

async function run(n: number, bad: Set<number>, opts: { batchSize: number; concurrency: number; quota: number | null; skipItems?: number; writeToOut: boolean }) {
  const skips: SkipEvent[] = [];
  const transform: TransformFn = async (bytes, _source, out) => {
    const i = bytes[0];
    await new Promise((r) => setTimeout(r, (i * 7) % 3));
    if (bad.has(i)) throw new Error(`bad ${i}`);
    const data = opts.writeToOut && out ? out : new Float32Array(3);
    data.fill(i);
    return { data, shape: [3, 1, 1] };
  };
  const out: WorkerBatch[] = [];
  for await (const b of produceBatches(items(n), {
    batchSize: opts.batchSize, transform, tokenize: (t) => ({ data: Int32Array.from(t.map((x) => Number(x.slice(1)))), shape: [t.length, 1] }),
    quota: opts.quota, skipItems: opts.skipItems ?? 0, onSkip: (e) => skips.push(e), concurrency: opts.concurrency,
  })) out.push(b);
  return { out, skips };
}

test('samples keep stream order and their own pixels when failures shift them inside the batch array', async () => {
  const bad = new Set([1, 4, 5, 9, 14]);
  for (const writeToOut of [true, false]) {
    for (const concurrency of [1, 3, 8]) {
      const { out, skips } = await run(20, bad, { batchSize: 4, concurrency, quota: null, writeToOut });
      const expected = Array.from({ length: 20 }, (_, i) => i).filter((i) => !bad.has(i));
      assert.deepEqual(out.flatMap((b) => b.keys), expected.map((i) => `k${i}`));
      assert.deepEqual(out.map((b) => b.imageShape[0]), [4, 4, 4, 3]);
      for (const b of out) {
        b.keys.forEach((k, j) => {
          const i = Number(k.slice(1));
          assert.deepEqual([...b.images.subarray(j * 3, j * 3 + 3)], [i, i, i], `${k} (concurrency ${concurrency}, out ${writeToOut})`);
          assert.equal(b.tokens![j], i);
        });
      }
      assert.deepEqual(skips.map((s) => s.where), [...bad].map((i) => `w${i}`));
      assert.ok(skips.every((s) => s.reason === 'corrupt-image'));
    }
  }
});

test('a quota stops after that many batches; cursors count consumed items; skipItems replays from a cursor', async () => {
  const { out } = await run(40, new Set([2]), { batchSize: 5, concurrency: 2, quota: 3, writeToOut: true });
  assert.equal(out.length, 3);
  assert.deepEqual(out.map((b) => b.cursor), [6, 11, 16]);
  const resumed = await run(40, new Set([2]), { batchSize: 5, concurrency: 2, quota: 2, skipItems: 6, writeToOut: true });
  assert.deepEqual(resumed.out.map((b) => b.keys), out.slice(1).map((b) => b.keys));
  await assert.rejects(run(7, new Set(), { batchSize: 5, concurrency: 2, quota: 2, writeToOut: true }), /ended after 1 of 2 batches/);
});
