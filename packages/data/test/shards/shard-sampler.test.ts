import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '@openclip/engine/rng';
import { parseUpsamplingFactors, ResampledShards, shardsForWorker } from '../../src/shards/shard-sampler.js';
import { expandUrls } from '../../src/shards/brace-expand.js';

/** Pearson chi-square statistic of observed counts against expected probabilities. */
function chiSquare(counts: number[], probs: number[]): number {
  const n = counts.reduce((a, b) => a + b, 0);
  return counts.reduce((acc, c, i) => acc + (c - n * probs[i]) ** 2 / (n * probs[i]), 0);
}

test('epoch mode: ranks x workers split the shuffled shards without overlap; the order depends on seed + epoch', () => {
  const urls = expandUrls('/d/{000..022}.tar');
  const slices = (epoch: number) => {
    const out: string[][] = [];
    for (let rank = 0; rank < 2; rank++) for (let worker = 0; worker < 3; worker++) out.push(shardsForWorker(urls, { seed: 7, epoch, shuffle: true, rank, worldSize: 2, worker, numWorkers: 3 }));
    return out;
  };
  const e0 = slices(0);
  assert.deepEqual(e0.flat().sort(), urls.slice().sort());
  assert.ok(Math.max(...e0.map((s) => s.length)) - Math.min(...e0.map((s) => s.length)) <= 1);
  assert.deepEqual(slices(0), e0, 'same seed and epoch give the same split');
  assert.notDeepEqual(slices(1), e0, 'another epoch reshuffles');
  // seed + epoch is what matters: (seed 7, epoch 1) equals (seed 8, epoch 0).
  assert.deepEqual(shardsForWorker(urls, { seed: 7, epoch: 1, shuffle: true, rank: 0, worldSize: 1, worker: 0, numWorkers: 1 }), shardsForWorker(urls, { seed: 8, epoch: 0, shuffle: true, rank: 0, worldSize: 1, worker: 0, numWorkers: 1 }));
  const unshuffled = shardsForWorker(urls, { seed: 7, epoch: 0, shuffle: false, rank: 1, worldSize: 2, worker: 0, numWorkers: 1 });
  assert.deepEqual(unshuffled, urls.filter((_, i) => i % 2 === 1));
});

test("upsampling factors: OpenCLIP's checks on resampling and on their count", () => {
  assert.deepEqual(parseUpsamplingFactors('/a/{0..1}.tar::/b/0.tar', '1::2.5', true), [1, 2.5]);
  assert.throws(() => parseUpsamplingFactors('/a.tar::/b.tar', '1::2', false), /only supported when sampling with replacement \(with --dataset-resampled\)/);
  assert.throws(() => parseUpsamplingFactors('/a.tar::/b.tar', '1::2::3', true), /Expected the number of data components \(2\) and weights\(3\) to match\./);
  assert.throws(() => parseUpsamplingFactors('/a.tar::/b.tar', '1::x', true), /factor 2 'x'/);
});

test('resampled shards: by default sources mix in proportion to their shard counts; factors scale them (chi-square)', () => {
  const spec = '/a/{0..1}.tar::/b/{0..5}.tar';
  const cases: [number[] | null, number[]][] = [
    [null, [2 / 8, 6 / 8]],
    [[3, 1], [6 / 12, 6 / 12]],
    [[1, 0.25], [2 / 3.5, 1.5 / 3.5]],
  ];
  for (const [factors, expected] of cases) {
    const s = new ResampledShards(spec, factors);
    assert.deepEqual(s.sourceProbabilities(spec).map((p) => p.toFixed(9)), expected.map((p) => p.toFixed(9)));
    const rng = new Rng(42);
    const counts = [0, 0];
    const perShard = new Array(s.urls.length).fill(0);
    for (let i = 0; i < 40000; i++) {
      const k = s.drawIndex(rng);
      perShard[k]++;
      counts[s.urls[k].startsWith('/a/') ? 0 : 1]++;
    }
    // 1 degree of freedom: 10.83 is the 0.1% critical value.
    assert.ok(chiSquare(counts, expected) < 10.83, `mix ${counts} vs ${expected}`);
    // Within a source, shards are equally likely (7 dof: 24.32 at 0.1%).
    const w = s.weights ?? s.urls.map(() => 1);
    const tot = w.reduce((a, b) => a + b, 0);
    assert.ok(chiSquare(perShard, w.map((x) => x / tot)) < 24.32, `per shard ${perShard}`);
  }
});

test('resampled streams are reproducible per (seed, epoch, rank, worker) and differ between them', () => {
  const s = new ResampledShards('/d/{00..63}.tar');
  const take = (seed: number, epoch: number, rank: number, worker: number) => {
    const it = s.stream(seed, epoch, { rank, worldSize: 2, worker, numWorkers: 2 });
    return Array.from({ length: 20 }, () => it.next().value as string);
  };
  assert.deepEqual(take(1, 0, 0, 0), take(1, 0, 0, 0));
  assert.notDeepEqual(take(1, 0, 0, 0), take(1, 0, 0, 1));
  assert.notDeepEqual(take(1, 0, 0, 0), take(1, 0, 1, 0));
  assert.notDeepEqual(take(1, 0, 0, 0), take(1, 1, 0, 0));
  assert.notDeepEqual(take(1, 0, 0, 0), take(2, 0, 0, 0));
});
