import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { baseAndExt, sampleImage, shardSamples, type WdsEvent } from '../../src/sources/webdataset.js';
import { tempDir, writeTarFile } from '../../test-support/pipeline-fixtures.js';

async function collect(url: string): Promise<WdsEvent[]> {
  const out: WdsEvent[] = [];
  for await (const e of shardSamples(url)) out.push(e);
  return out;
}

const summary = (events: WdsEvent[]) =>
  events.map((e) => (e.kind === 'sample' ? `${e.sample.key}:${[...e.sample.parts.keys()].join('+')}` : `error`));

test('base_plus_ext: the key ends at the first dot of the file name; folder dots are not separators', () => {
  assert.deepEqual(baseAndExt('000001.jpg'), ['000001', 'jpg']);
  assert.deepEqual(baseAndExt('a/b.c/000001.seg.png'), ['a/b.c/000001', 'seg.png']);
  assert.deepEqual(baseAndExt('dir.v2/sub/x.tar.gz'), ['dir.v2/sub/x', 'tar.gz']);
  assert.equal(baseAndExt('a.b/README'), null);
  assert.equal(baseAndExt('noext'), null);
});

test('members group into samples by key, suffixes lower-cased; a repeated suffix or new key starts a sample', async () => {
  const dir = await tempDir();
  const shard = join(dir, 'g.tar');
  await writeTarFile(shard, [
    { name: 'folder.v1', data: '', type: 'directory' },
    { name: '__index__/x.json', data: '{}' },
    { name: 'folder.v1/k1.JPG', data: 'img1' },
    { name: 'folder.v1/k1.txt', data: 'cap1' },
    { name: 'folder.v1/k1.json', data: '{"a":1}' },
    { name: 'k2.png', data: 'img2' },
    { name: 'k2.txt', data: 'cap2' },
    { name: 'k2.txt', data: 'cap2b' },
    { name: 'k3.webp', data: 'img3' },
    { name: 'README', data: 'no dot: ignored' },
  ]);
  const events = await collect(shard);
  assert.deepEqual(summary(events), ['folder.v1/k1:jpg+txt+json', 'k2:png+txt', 'k2:txt', 'k3:webp']);
  const first = events[0];
  assert.ok(first.kind === 'sample');
  assert.equal(new TextDecoder().decode(sampleImage(first.sample)!.data), 'img1');
  assert.equal(first.sample.url, shard);
});

test('a truncated shard yields the samples before the break, then an error event naming the shard', async () => {
  const dir = await tempDir();
  const shard = join(dir, 't.tar');
  const big = new Uint8Array(5000).fill(7);
  await writeTarFile(shard, [
    { name: 'a.jpg', data: big },
    { name: 'a.txt', data: 'A' },
    { name: 'b.jpg', data: big },
    { name: 'b.txt', data: 'B' },
    { name: 'c.jpg', data: big },
    { name: 'c.txt', data: 'C' },
  ], 1024 + 3000);
  const events = await collect(shard);
  const samples = events.filter((e) => e.kind === 'sample');
  assert.deepEqual(samples.map((e) => e.kind === 'sample' && e.sample.key), ['a', 'b']);
  const last = events[events.length - 1];
  assert.equal(last.kind, 'error');
  assert.ok(last.kind === 'error' && last.url === shard && last.message.length > 0);
  const missing = await collect(join(dir, 'missing.tar'));
  assert.equal(missing.length, 1);
  assert.ok(missing[0].kind === 'error' && /ENOENT/.test(missing[0].message));
});

test('http(s) shards stream from a server (loopback), and HTTP errors become error events', async () => {
  const dir = await tempDir();
  const shard = join(dir, 'h.tar');
  await writeTarFile(shard, [
    { name: 'x.jpg', data: 'X' },
    { name: 'x.txt', data: 'cap x' },
    { name: 'y.jpg', data: 'Y' },
    { name: 'y.txt', data: 'cap y' },
  ]);
  const server = createServer((req, res) => {
    if (req.url === '/h.tar') {
      res.writeHead(200, { 'content-length': statSync(shard).size });
      createReadStream(shard, { highWaterMark: 100 }).pipe(res);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    assert.deepEqual(summary(await collect(`${base}/h.tar`)), ['x:jpg+txt', 'y:jpg+txt']);
    const bad = await collect(`${base}/nope.tar`);
    assert.ok(bad.length === 1 && bad[0].kind === 'error' && /HTTP 404/.test(bad[0].message));
  } finally {
    server.close();
  }
});

test('pipe: shards read a command\'s stdout; a failing command is an error event', async () => {
  const dir = await tempDir();
  const shard = join(dir, 'p.tar');
  await writeTarFile(shard, [
    { name: 'x.jpg', data: 'X' },
    { name: 'x.txt', data: 'cap' },
  ]);
  assert.deepEqual(summary(await collect(`pipe:cat '${shard}'`)), ['x:jpg+txt']);
  const bad = await collect(`pipe:cat '${join(dir, 'none.tar')}'`);
  assert.equal(bad[bad.length - 1].kind, 'error');
  assert.match((bad[bad.length - 1] as { message: string }).message, /pipe command exited with 1/);
});
