/** One rank of the all-reduce benchmark (child process): times ring all-reduce over sizes. */
import { TcpTransport } from '../distributed/tcp-transport.js';

const [rank, worldSize, port] = process.argv.slice(2, 5).map(Number);
const sizesMB = process.argv[5].split(',').map(Number);
const repeats = Number(process.argv[6] ?? 3);
const t = await TcpTransport.connect({ rank, worldSize, masterAddr: '127.0.0.1', masterPort: port, timeoutMs: 60_000, secret: 'bench' });
const rows: { mb: number; seconds: number[] }[] = [];
for (const mb of sizesMB) {
  const data = new Float32Array((mb * 1024 * 1024) / 4).fill(rank + 1);
  const seconds: number[] = [];
  await t.allReduce(data.subarray(0, 1024)); // warm up the sockets
  for (let i = 0; i < repeats; i++) {
    await t.barrier();
    const t0 = process.hrtime.bigint();
    const r = await t.allReduce(data, 'sum');
    seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
    if (r[r.length - 1] !== (worldSize * (worldSize + 1)) / 2) throw new Error('wrong all-reduce result');
  }
  rows.push({ mb, seconds });
}
t.close();
if (rank === 0) console.log(JSON.stringify(rows));
