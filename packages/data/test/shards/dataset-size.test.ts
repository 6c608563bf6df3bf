import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getDatasetSize, resolveTrainNumSamples, UNKNOWN_SIZE_MESSAGE } from '../../src/shards/dataset-size.js';
import { tempDir } from '../../test-support/pipeline-fixtures.js';

test('sizes.json beside the shards gives the total of the selected shards', async () => {
  const dir = await tempDir();
  await writeFile(join(dir, 'sizes.json'), JSON.stringify({ '000.tar': 10, '001.tar': 7, '002.tar': 5 }));
  const r = getDatasetSize(join(dir, '{000..001}.tar'));
  assert.equal(r.totalSize, 17);
  assert.equal(r.numShards, 2);
  assert.equal(resolveTrainNumSamples(join(dir, '{000..002}.tar')), 22);
  assert.equal(resolveTrainNumSamples(join(dir, '{000..002}.tar'), 5), 5);
  assert.throws(() => getDatasetSize(join(dir, '{000..003}.tar')), /sizes\.json: no sample count for shard '003\.tar'/);
});

test('__len__ is used when there is no sizes.json; sources in two folders add up', async () => {
  const a = await tempDir();
  const b = join(a, 'other');
  await mkdir(b);
  await writeFile(join(a, '__len__'), '123\n');
  await writeFile(join(b, 'sizes.json'), JSON.stringify({ 'x0.tar': 4, 'x1.tar': 6 }));
  assert.equal(getDatasetSize(join(a, '{0..9}.tar')).totalSize, 123);
  assert.equal(getDatasetSize(`${join(a, '{0..9}.tar')}::${join(b, 'x{0..1}.tar')}`).totalSize, 133);
});

test("without size info, training fails with OpenCLIP's message", async () => {
  const dir = await tempDir();
  assert.equal(getDatasetSize(join(dir, '{0..3}.tar')).totalSize, null);
  assert.throws(() => resolveTrainNumSamples(join(dir, '{0..3}.tar')), (e: Error) => e.message === UNKNOWN_SIZE_MESSAGE);
  assert.match(UNKNOWN_SIZE_MESSAGE, /--train-num-samples/);
  assert.equal(getDatasetSize('https://host/x-{0..3}.tar').totalSize, null);
});
