/**
 * One rank of the all-reduce benchmark (child process of bench/allreduce.ts), driven over rank 0's
 * stdin so that it runs interleaved with torch's gloo ranks: rank 0 reads a line "MB REPEATS",
 * broadcasts it, every rank times REPEATS in-place sum all-reduces of MB megabytes of float32
 * (after one untimed all-reduce of the whole array: the steady state of a training step, which
 * reduces the same buffer every step, is timed), and rank 0 answers one JSON line. End of input ends every rank.
 * argv: RANK WORLD PORT [BACKEND] — BACKEND 'tcp' (default) or 'mpi' (under mpirun; rank and world come from MPI).
 */
import { createInterface } from 'node:readline';
import { connectBackend, type DistBackendName, type Collectives } from '../src/distributed/backend.js';
import { MpiTransport } from '../src/distributed/mpi-transport.js';

const [rank, worldSize, port] = process.argv.slice(2, 5).map(Number);
const backend = (process.argv[5] ?? 'tcp') as DistBackendName;
const t: Collectives = backend === 'mpi' ? MpiTransport.create({ opTimeoutMs: 600_000 }) : await connectBackend(backend, { rank, worldSize, masterAddr: '127.0.0.1', masterPort: port, timeoutMs: 60_000, opTimeoutMs: 600_000, secret: 'bench' });
const want = (t.worldSize * (t.worldSize + 1)) / 2;
const lines = t.rank === 0 ? createInterface({ input: process.stdin })[Symbol.asyncIterator]() : null;
if (t.rank === 0) process.stdout.write(`${JSON.stringify({ ready: true, rank: t.rank, worldSize: t.worldSize })}\n`);
for (;;) {
  let cmd: Float32Array | null = null;
  if (lines) {
    const next = await lines.next();
    cmd = next.done ? Float32Array.of(-1, 0) : Float32Array.from(next.value.trim().split(/\s+/).map(Number));
  }
  const [mb, repeats] = await t.broadcast(cmd, 0);
  if (mb < 0) break;
  const data = new Float32Array(Math.floor((mb * 1024 * 1024) / 4));
  await t.allReduceInPlace(data); // warm-up, untimed
  const seconds: number[] = [];
  for (let i = 0; i < repeats; i++) {
    data.fill(t.rank + 1);
    await t.barrier();
    const t0 = process.hrtime.bigint();
    await t.allReduceInPlace(data, 'sum');
    seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
    if (data[0] !== want || data[data.length - 1] !== want) throw new Error(`rank ${t.rank}: wrong all-reduce result`);
  }
  if (t.rank === 0) process.stdout.write(`${JSON.stringify({ mb, seconds })}\n`);
}
t.close();
process.exit(0);
