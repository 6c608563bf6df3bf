// The Open MPI backend under mpirun on 2 and 4 ranks: every collective against values computed
// here, and a rank that never joins a collective makes the job stop with the timed-out
// collective named. Skipped, saying why, where the addon or mpirun is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mpiAvailability } from '../../src/distributed/mpi-transport.js';

const mpi = mpiAvailability();
const skip = mpi.ok ? false : mpi.reason;
const script = fileURLToPath(new URL('../../test-support/mpi-rank.js', import.meta.url));

function mpirun(np: number, args: string[], timeoutMs: number): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(mpi.mpirun!, ['--allow-run-as-root', '--oversubscribe', '-np', String(np), process.execPath, script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

for (const n of [2, 4]) {
  test(`Open MPI on ${n} ranks: all-reduce (sum, mean, max, min; large arrays by the ring; several arrays as one), all-gather of uneven and empty arrays, broadcast, exchange`, { skip }, async () => {
    const r = await mpirun(n, ['collectives'], 120_000);
    assert.equal(r.code, 0, r.err);
    const ranks = r.out.trim().split('\n').map((l) => JSON.parse(l)).sort((a, b) => a.rank - b.rank);
    assert.equal(ranks.length, n);
    const tri = (n * (n + 1)) / 2;
    for (const g of ranks) {
      const r0 = g.rank as number;
      assert.equal(g.worldSize, n);
      assert.deepEqual(g.sum, [0.5 * tri, 0.5 * tri + n, 0.5 * tri + 2 * n, 0.5 * tri + 1000 * n]);
      assert.deepEqual(g.mean, [(0.5 * tri) / n, (0.5 * tri + n) / n]);
      assert.deepEqual(g.ringWrong, [], `rank ${g.rank}: all-reduce of 131,077 values`);
      const ranksSum = (n * (n + 1)) / 2;
      assert.deepEqual(g.parts, [[ranksSum, ranksSum + n, ranksSum + 2 * n], [], [3 * ranksSum, 3 * ranksSum + n]]);
      assert.deepEqual(g.max, [n - 1, 0]);
      assert.deepEqual(g.min, [0, -(n - 1)]);
      assert.equal(g.unchanged, true, 'allReduce (not in place) left its input alone');
      assert.deepEqual(g.gather, Array.from({ length: n }, (_, p) => Array(p + 1).fill(p)));
      assert.deepEqual(g.gatherEmpty, Array.from({ length: n }, (_, p) => (p === 0 ? 0 : 2)));
      assert.deepEqual(g.broadcast, [4, 5, 6]);
      assert.equal(g.bigBroadcastLength, (1 << 24) + 3);
      const from = (r0 - 1 + n) % n;
      assert.deepEqual(g.exchange, Array(from + 2).fill(from));
    }
  });
}

test('Open MPI: a rank that never joins the all-reduce stops the job, the waiting ranks naming the collective', { skip }, async () => {
  const t0 = Date.now();
  const r = await mpirun(2, ['stall'], 60_000);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /rank 0: allReduce \(8 values\) #\d+: timed out after 1\.5 s in Open MPI/);
  assert.ok(Date.now() - t0 < 25_000, 'the job stopped before the stalled rank woke up');
});

test('the addon refuses bad arguments by name, and collectives before init(), without starting MPI', { skip }, () => {
  // (a child process: once MPI has started in a process it cannot be started again there)
  const code = `
    const a = require('@openclip/train-mpi');
    const out = [];
    for (const f of [() => a.allreduce(new Float32Array(2), 0), () => a.allreduce(new Float64Array(2), 0, () => {}), () => a.allreduce(new Float32Array(2), 5, () => {}),
      () => a.allreduce(new Float32Array(2), 0, () => {}), () => a.bcast(new Float32Array(2), 0, () => {}), () => a.barrier(1)]) {
      try { f(); out.push('accepted'); } catch (e) { out.push(e.message); }
    }
    console.log(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', cwd: fileURLToPath(new URL('.', import.meta.url)), timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), [
    'openclip-mpi: allreduce(data, op, callback)',
    'openclip-mpi: data must be a Float32Array',
    'openclip-mpi: op must be an integer in [0, 2]',
    'openclip-mpi: init() was not called (or finalize() was)',
    'openclip-mpi: bcast(data, root, callback) after init()',
    'openclip-mpi: the last argument must be a callback',
  ]);
});
