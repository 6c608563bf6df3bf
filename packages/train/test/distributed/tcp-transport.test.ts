import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../test-support/transport-rank.js', import.meta.url));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function runWorld(n: number, scenario: string, ranks = Array.from({ length: n }, (_, i) => i)): Promise<Record<string, any>[]> {
  const port = await freePort();
  const outs = await Promise.all(
    ranks.map(
      (r) =>
        new Promise<Record<string, any>>((resolve, reject) => {
          const child = spawn(process.execPath, [script, String(r), String(n), String(port), scenario], { stdio: ['ignore', 'pipe', 'inherit'] });
          let text = '';
          child.stdout.on('data', (d) => (text += d));
          const timer = setTimeout(() => {
            child.kill();
            reject(new Error(`rank ${r} hung`));
          }, 30_000);
          child.on('exit', (code) => {
            clearTimeout(timer);
            resolve(text.trim() ? JSON.parse(text.trim().split('\n').pop()!) : { rank: r, exit: code });
          });
        }),
    ),
  );
  return outs.sort((a, b) => a.rank - b.rank);
}

for (const n of [2, 4]) {
  test(`${n} processes on loopback: all-reduce (of one array and of several as one), all-gather, broadcast, barrier, exchange`, async () => {
    const outs = await runWorld(n, 'ops');
    for (const o of outs) {
      assert.equal(o.error, undefined, `rank ${o.rank}: ${o.error}`);
      const want = Array.from({ length: 11 }, (_, i) => Array.from({ length: n }, (_, r) => (r + 1) * 1000 + i * 0.5).reduce((a, b) => a + b, 0));
      assert.deepEqual(o.sum, want);
      assert.deepEqual(o.mean, Array.from({ length: 3 }, (_, i) => Array.from({ length: n }, (_, r) => (r + 1) * 1000 + i * 0.5).reduce((a, b) => a + b, 0) / n).map((v) => Math.fround(v)));
      assert.deepEqual(o.max, [n - 1, 0]);
      assert.deepEqual(o.tiny, [(n * (n + 1)) / 2]);
      assert.deepEqual(o.gather, Array.from({ length: n }, (_, r) => Array(r + 1).fill(r)));
      assert.deepEqual(o.bcast, [7, 8]);
      assert.deepEqual(o.exchanged, [(o.rank - 1 + n) % n]);
      assert.equal(o.bigOk, true);
      assert.deepEqual(o.partsWrong, [], `rank ${o.rank}: allReduceParts`);
      assert.equal(o.reusedReadBuffers, true, `rank ${o.rank}: a link reads the default way (a fresh Buffer per read)`);
    }
  });
}

test('a rank that never arrives fails the rendezvous with an error naming it', async () => {
  const outs = await runWorld(3, 'missing', [0, 1]);
  assert.match(outs[0].error, /rank\(s\) 2 did not arrive/);
  assert.match(outs[1].error, /did not arrive|closed|timed out/);
});

test('a rank killed mid-run makes the others fail with an error, not hang', async () => {
  const outs = await runWorld(3, 'die');
  assert.equal(outs[2].exit, 3);
  for (const o of outs.slice(0, 2)) assert.match(o.error, /rank \d+: .*(rank 2 disconnected|connection to rank 2 failed|rank \d disconnected)/);
});

test('a rank that closes its transport when done does not fail the others still exchanging; a later receive from it names it', async () => {
  const outs = await runWorld(4, 'leave');
  assert.equal(outs[0].error, undefined);
  for (const o of outs.slice(1)) {
    assert.equal(o.error, null, `rank ${o.rank}: ${o.error}`);
    assert.deepEqual(o.exchanged, [((o.rank - 2 + 3) % 3) + 1]);
    assert.match(o.afterLeave, new RegExp(`^rank ${o.rank}: rank 0 has closed its transport`));
  }
});
