import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { scanImageFolder } from '../../src/sources/image-folder.js';
import { tempDir } from '../../test-support/pipeline-fixtures.js';

test('ImageNet-V2 folders: label = int(folder name), not the position in string order', async () => {
  const root = await tempDir();
  for (const c of ['0', '1', '2', '10', '11']) {
    await mkdir(join(root, c), { recursive: true });
    await writeFile(join(root, c, 'a.jpeg'), '');
  }
  const sorted = scanImageFolder(root);
  // string order puts folder 10 third: torchvision's ImageFolder would call it class 2
  assert.deepEqual(sorted.classes, ['0', '1', '10', '11', '2']);
  const v2 = scanImageFolder(root, { labels: 'numeric' });
  const byFolder = Object.fromEntries(v2.paths.map((p, i) => [p.slice(root.length + 1).split('/')[0], v2.labels[i]]));
  assert.deepEqual(byFolder, { 0: 0, 1: 1, 2: 2, 10: 10, 11: 11 });
  assert.equal(v2.classes.length, 12);
  assert.equal(v2.classes[10], '10');
});

test('a non-numeric class folder in an ImageNet-V2 root is named in the error', async () => {
  const root = await tempDir();
  for (const c of ['0', 'n01440764']) {
    await mkdir(join(root, c), { recursive: true });
    await writeFile(join(root, c, 'a.jpeg'), '');
  }
  assert.throws(() => scanImageFolder(root, { labels: 'numeric' }), /ImageNet-V2 class folders are named by their label .*'n01440764' is not/);
});
