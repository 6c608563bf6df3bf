/**
 * One rank of the transport tests, run as a child process:
 * `node transport-rank.js <rank> <worldSize> <port> <scenario>`; prints one JSON line
 * (`linkdown` first prints {"phase":"running"} once the world works; in `leave` rank 0 closes
 * right after a barrier while the others go on exchanging among themselves). MASTER_ADDR (default
 * 127.0.0.1) and OPENCLIP_DIST_TIMEOUT_S (seconds) override the rendezvous host and timeouts.
 */
import { TcpTransport } from '../src/distributed/tcp-transport.js';

const [rank, worldSize, port] = process.argv.slice(2, 5).map(Number);
const scenario = process.argv[5];

function pattern(r: number, n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => (r + 1) * 1000 + i * 0.5);
}

try {
  const t = await TcpTransport.connect({
    rank,
    worldSize,
    masterAddr: process.env.MASTER_ADDR ?? '127.0.0.1',
    masterPort: port,
    timeoutMs: scenario === 'missing' ? 1500 : 20_000,
    opTimeoutMs: process.env.OPENCLIP_DIST_TIMEOUT_S ? Number(process.env.OPENCLIP_DIST_TIMEOUT_S) * 1000 : scenario === 'stall' ? 1000 : 20_000,
    secret: process.env.OPENCLIP_DIST_SECRET ?? 'transport-test',
  });
  const out: Record<string, unknown> = { rank };
  if (scenario === 'ops') {
    out.sum = Array.from(await t.allReduce(pattern(rank, 11), 'sum'));
    out.mean = Array.from(await t.allReduce(pattern(rank, 3), 'mean'));
    out.max = Array.from(await t.allReduce(Float32Array.from([rank, -rank]), 'max'));
    out.tiny = Array.from(await t.allReduce(Float32Array.from([rank + 1]), 'sum')); // fewer elements than ranks
    out.gather = (await t.allGather(Float32Array.from({ length: rank + 1 }, () => rank))).map((a) => Array.from(a));
    out.bcast = Array.from(await t.broadcast(rank === 1 ? Float32Array.from([7, 8]) : null, 1));
    await t.barrier();
    const n = worldSize;
    out.exchanged = Array.from(await t.exchange((rank - 1 + n) % n, (rank + 1) % n, Float32Array.from([rank])));
    const big = new Float32Array(1 << 20).fill(rank + 1);
    const r = await t.allReduce(big, 'sum');
    out.bigOk = r.every((v) => v === (n * (n + 1)) / 2);
    // several arrays reduced as one: empty ones, one longer than a frame, segments across arrays
    const lens = [0, 5, (1 << 18) + 7, 3, 1];
    const value = (r: number, j: number, i: number) => (r + 1) * 100 + j * 10 + (i % 7);
    const parts = lens.map((len, j) => Float32Array.from({ length: len }, (_, i) => value(rank, j, i)));
    await t.allReduceParts(parts, 'mean');
    const expect = (j: number, i: number) => Math.fround(Array.from({ length: n }, (_, r) => value(r, j, i)).reduce((a, b) => a + b, 0) / n);
    out.partsWrong = parts.flatMap((p, j) => Array.from(p.keys()).filter((i) => p[i] !== expect(j, i)).slice(0, 3).map((i) => `part ${j}[${i}] = ${p[i]}, expected ${expect(j, i)}`));
    out.reusedReadBuffers = t.linksReadIntoReusedBuffers();
  } else if (scenario === 'stall') {
    await t.barrier();
    if (rank === 1) process.kill(process.pid, 'SIGSTOP'); // stopped, socket still open
    try {
      await t.allReduce(new Float32Array(4));
      out.error = null;
    } catch (e) {
      out.error = (e as Error).message;
    }
  } else if (scenario === 'linkdown') {
    // all-reduces until one fails (the test takes a rank's link down meanwhile), for at most 60 s
    await t.barrier();
    console.log(JSON.stringify({ phase: 'running', rank }));
    out.error = null;
    const until = Date.now() + 60_000;
    try {
      while (Date.now() < until) {
        await t.allReduce(new Float32Array(1000).fill(1));
        await new Promise((r) => setTimeout(r, 50));
      }
    } catch (e) {
      out.error = (e as Error).message;
    }
  } else if (scenario === 'leave') {
    await t.barrier();
    if (rank > 0) {
      await new Promise((r) => setTimeout(r, 300)); // rank 0 has closed meanwhile
      const m = worldSize - 1; // a ring over ranks 1..n-1
      try {
        out.exchanged = Array.from(await t.exchange(((rank - 2 + m) % m) + 1, (rank % m) + 1, Float32Array.from([rank])));
        out.error = null;
      } catch (e) {
        out.error = (e as Error).message;
      }
      try {
        await t.broadcast(null, 0);
        out.afterLeave = null;
      } catch (e) {
        out.afterLeave = (e as Error).message;
      }
    }
  } else if (scenario === 'die') {
    await t.barrier();
    if (rank === worldSize - 1) process.exit(3); // dies mid-run
    await new Promise((r) => setTimeout(r, 200));
    try {
      for (let i = 0; i < 5; i++) await t.allReduce(new Float32Array(4));
      out.error = null;
    } catch (e) {
      out.error = (e as Error).message;
    }
  }
  t.close();
  console.log(JSON.stringify(out));
} catch (e) {
  console.log(JSON.stringify({ rank, error: (e as Error).message }));
}
