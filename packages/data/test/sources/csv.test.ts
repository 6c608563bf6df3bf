import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { readCsvDataset } from '../../src/sources/csv.js';
import { tempDir } from '../../test-support/pipeline-fixtures.js';

test('tab-separated by default; quoted fields and multi-line captions; paths resolved against the CSV folder', async () => {
  const dir = await tempDir();
  const file = join(dir, 'train.csv');
  await writeFile(file, 'filepath\ttitle\textra\nimg/a.jpg\tplain caption\tx\n/abs/b.png\t"two\nlines, with ""quotes"""\ty\nc.jpg\t"tab\tinside"\tz\n');
  const rows = await readCsvDataset(file);
  assert.deepEqual(rows.images, [join(dir, 'img/a.jpg'), '/abs/b.png', join(dir, 'c.jpg')]);
  assert.deepEqual(rows.captions, ['plain caption', 'two\nlines, with "quotes"', 'tab\tinside']);
  assert.equal(rows.lines.length, 3);
});

test('--csv-separator, --csv-img-key and --csv-caption-key are honoured (\\t given as two characters is a tab)', async () => {
  const dir = await tempDir();
  const file = join(dir, 'd.csv');
  await writeFile(file, 'url,caption\nx.jpg,"a, b"\n');
  const rows = await readCsvDataset(file, { separator: ',', imgKey: 'url', captionKey: 'caption' });
  assert.deepEqual(rows.captions, ['a, b']);
  const tsv = join(dir, 'd.tsv');
  await writeFile(tsv, 'filepath\ttitle\nx.jpg\tc\n');
  assert.deepEqual((await readCsvDataset(tsv, { separator: '\\t' })).captions, ['c']);
});

test('a missing column is an error naming the file, line 1 and the flag; unreadable and malformed files too', async () => {
  const dir = await tempDir();
  const file = join(dir, 'bad.csv');
  await writeFile(file, 'path\ttitle\nx.jpg\tc\n');
  await assert.rejects(readCsvDataset(file), (e: Error) => e.message.includes(`${file} line 1: no image column 'filepath'`) && e.message.includes('--csv-img-key') && e.message.includes('path, title'));
  await assert.rejects(readCsvDataset(file, { imgKey: 'path', captionKey: 'caption' }), /line 1: no caption column 'caption'.*--csv-caption-key/);
  await assert.rejects(readCsvDataset(join(dir, 'none.csv')), /cannot read CSV .*none\.csv: ENOENT/);
  const ragged = join(dir, 'ragged.csv');
  await writeFile(ragged, 'filepath\ttitle\na.jpg\tok\nb.jpg\tx\textra\n');
  await assert.rejects(readCsvDataset(ragged), (e: Error) => e.message.startsWith(`${ragged} line 3`));
  if (process.getuid?.() !== 0) {
    await chmod(ragged, 0);
    await assert.rejects(readCsvDataset(ragged), /cannot read CSV/);
  }
});
