import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapStyleCounts, webdatasetTrainCounts } from '../../src/pipeline/epoch-counts.js';

test('webdataset train counts: the fewest per-worker batches covering num_samples (ceil), or not exceeding it (floor)', () => {
  for (const numSamples of [1, 63, 64, 65, 1000, 12345]) {
    for (const batchSize of [1, 4, 32]) {
      for (const worldSize of [1, 2, 3]) {
        for (const workers of [0, 1, 2, 4]) {
          const c = webdatasetTrainCounts({ numSamples, batchSize, worldSize, workers });
          const W = Math.max(1, workers);
          const gb = batchSize * worldSize;
          // Independent search: smallest k with k * W * gb >= numSamples.
          let k = 0;
          while (k * W * gb < numSamples) k++;
          assert.equal(c.numWorkerBatches, k);
          assert.equal(c.numBatches, k * W);
          assert.equal(c.numSamples, k * W * gb);
          const f = webdatasetTrainCounts({ numSamples, batchSize, worldSize, workers, floor: true });
          let kf = 0;
          while (Math.floor(numSamples / gb) >= (kf + 1) * W) kf++;
          assert.equal(f.numWorkerBatches, kf);
          assert.ok(f.numSamples <= numSamples);
        }
      }
    }
  }
});

test('map-style counts follow DistributedSampler padding and drop_last', () => {
  for (const size of [1, 10, 11, 100]) {
    for (const worldSize of [1, 2, 3]) {
      for (const batchSize of [1, 3, 4]) {
        const perRank = Array.from({ length: worldSize }, (_, r) => {
          let n = 0;
          for (let i = r; i < Math.ceil(size / worldSize) * worldSize; i += worldSize) n++;
          return n;
        })[0];
        assert.equal(mapStyleCounts({ datasetSize: size, batchSize, worldSize, dropLast: true }).numBatches, Math.floor(perRank / batchSize));
        assert.equal(mapStyleCounts({ datasetSize: size, batchSize, worldSize, dropLast: false }).numBatches, Math.ceil(perRank / batchSize));
      }
    }
  }
});
