/**
 * One rank of the Open MPI collectives test (started by mpirun from mpi-transport.test.ts):
 * `node mpi-rank.js collectives` runs every collective on rank-dependent data and prints
 * one JSON line per rank with what it got; `node mpi-rank.js stall` has the last rank skip
 * the all-reduce the others wait in (their deadline is 1.5 s); `node mpi-rank.js linkdown`
 * all-reduces until one fails (deadline 3 s), rank 0 printing {"phase":"running"} first.
 */
import { MpiTransport } from '../src/distributed/mpi-transport.js';

const mode = process.argv[2];
const t = MpiTransport.create({ opTimeoutMs: mode === 'stall' ? 1500 : mode === 'linkdown' ? 3000 : 60_000 });
const r = t.rank;
const n = t.worldSize;
if (mode === 'linkdown') {
  await t.barrier();
  if (r === 0) process.stdout.write(`${JSON.stringify({ phase: 'running' })}\n`);
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    await t.allReduce(new Float32Array(1000).fill(1));
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.close();
} else if (mode === 'stall') {
  if (r === n - 1) await new Promise((resolve) => setTimeout(resolve, 30_000));
  else await t.allReduce(new Float32Array(8));
  t.close();
} else {
  const odd = Float32Array.from({ length: 1001 }, (_, i) => (r + 1) * 0.5 + i);
  const inPlace = Float32Array.from(odd);
  await t.allReduceInPlace(inPlace, 'sum');
  const got = {
    rank: r,
    worldSize: n,
    sum: Array.from(inPlace.subarray(0, 3)).concat(inPlace[1000]),
    mean: Array.from(await t.allReduce(odd, 'mean')).slice(0, 2),
    max: Array.from(await t.allReduce(Float32Array.of(r, -r), 'max')),
    min: Array.from(await t.allReduce(Float32Array.of(r, -r), 'min')),
    unchanged: odd[0] === (r + 1) * 0.5,
    gather: (await t.allGather(Float32Array.from({ length: r + 1 }, () => r))).map((a) => Array.from(a)),
    gatherEmpty: (await t.allGather(new Float32Array(r === 0 ? 0 : 2).fill(7))).map((a) => a.length),
    broadcast: Array.from(await t.broadcast(r === 1 % n ? Float32Array.of(4, 5, 6) : null, 1 % n)),
    bigBroadcastLength: (await t.broadcast(r === 0 ? new Float32Array((1 << 24) + 3) : null, 0)).length,
    // large enough for the addon's ring (65,536 values and more): every value checked, sum and max
    ringWrong: await (async () => {
      const len = (1 << 17) + 5;
      const value = (q: number, i: number) => (q + 1) * 3 + (i % 11) - (i % 3 === q % 3 ? 5 : 0);
      const sum = Float32Array.from({ length: len }, (_, i) => value(r, i));
      const max = Float32Array.from(sum);
      await t.allReduceInPlace(sum, 'sum');
      await t.allReduceInPlace(max, 'max');
      const ranks = Array.from({ length: n }, (_, q) => q);
      const wrong: string[] = [];
      for (let i = 0; i < len && wrong.length < 3; i++) {
        const s = ranks.reduce((a, q) => a + value(q, i), 0);
        const m = Math.max(...ranks.map((q) => value(q, i)));
        if (sum[i] !== s || max[i] !== m) wrong.push(`[${i}]: sum ${sum[i]} (want ${s}), max ${max[i]} (want ${m})`);
      }
      return wrong;
    })(),
    parts: await (async () => {
      const parts = [3, 0, 2].map((len, j) => Float32Array.from({ length: len }, (_, i) => (r + 1) * (j + 1) + i));
      await t.allReduceParts(parts, 'sum');
      return parts.map((p) => Array.from(p));
    })(),
    exchange: n > 1 ? Array.from(await t.exchange((r - 1 + n) % n, (r + 1) % n, Float32Array.from({ length: r + 2 }, () => r))) : [],
  };
  await t.barrier();
  t.close();
  process.stdout.write(`${JSON.stringify(got)}\n`);
}
