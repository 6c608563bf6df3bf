import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { scanImageFolder } from '../../src/sources/image-folder.js';
import { tempDir } from '../../test-support/pipeline-fixtures.js';

test('classes are the sorted sub-folders; files sorted, nested folders walked, non-images ignored', async () => {
  const root = await tempDir();
  for (const [p, d] of [['zebra/2.jpg', ''], ['zebra/1.JPEG', ''], ['cat/b.png', ''], ['cat/a.webp', ''], ['cat/sub/c.jpg', ''], ['cat/notes.txt', ''], ['Dog/x.bmp', '']] as const) {
    await mkdir(join(root, p, '..'), { recursive: true });
    await writeFile(join(root, p), d);
  }
  await writeFile(join(root, 'stray.jpg'), '');
  const idx = scanImageFolder(root);
  assert.deepEqual(idx.classes, ['Dog', 'cat', 'zebra']);
  assert.deepEqual(idx.paths.map((p) => p.slice(root.length + 1)), ['Dog/x.bmp', 'cat/a.webp', 'cat/b.png', 'cat/sub/c.jpg', 'zebra/1.JPEG', 'zebra/2.jpg']);
  assert.deepEqual(idx.labels, [0, 1, 1, 1, 2, 2]);
});

test('no class folder, an empty class or a missing root are clear errors', async () => {
  const root = await tempDir();
  assert.throws(() => scanImageFolder(root), /Couldn't find any class folder/);
  await mkdir(join(root, 'empty'));
  assert.throws(() => scanImageFolder(root), /Found no valid file for the classes empty/);
  assert.throws(() => scanImageFolder(join(root, 'nope')), /cannot read image folder .*ENOENT/);
});
