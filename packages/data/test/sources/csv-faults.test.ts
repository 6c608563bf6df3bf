import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readCsvDataset } from '../../src/sources/csv.js';
import { tempDir } from '../../test-support/pipeline-fixtures.js';

test('an unclosed quote is reported at the line where it opened, not where the parser gave up', async () => {
  const dir = await tempDir();
  const file = join(dir, 'q.csv');
  await writeFile(file, 'filepath\ttitle\na.jpg\tfine\nb.jpg\t"open quote never closed\nc.jpg\tthird\nd.jpg\tfourth\n');
  await assert.rejects(readCsvDataset(file), (e: Error) => {
    assert.match(e.message, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} line 3: a quoted field opens here and is never closed`));
    return true;
  });
  // a valid multi-line quoted caption before the bad one does not shift the count
  const multi = join(dir, 'm.csv');
  await writeFile(multi, 'filepath,title\na.jpg,"two\nlines ""quoted"""\nb.jpg,ok\nc.jpg,"never\nclosed\nd.jpg,x\n');
  await assert.rejects(readCsvDataset(multi, { separator: ',' }), /m\.csv line 5: a quoted field opens here and is never closed/);
});

test('text after a closing quote names the line where that quoted field opened', async () => {
  const dir = await tempDir();
  const file = join(dir, 'c.csv');
  await writeFile(file, 'filepath\ttitle\na.jpg\tfine\nb.jpg\t"spans\ntwo lines" and more\nc.jpg\tok\n');
  await assert.rejects(readCsvDataset(file), /c\.csv line 4: a quoted field opened at line 3 is closed and followed by more text/);
});
