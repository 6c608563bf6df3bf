/**
 * `npm run bench:allreduce -w @openclip/train`: ring all-reduce bandwidth of the TCP transport
 * on loopback for 10-400 MB of float32, with 2 processes (and 4 when asked). Prints a table and
 * writes bench-results/allreduce.json.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '@openclip/test-config';

const script = fileURLToPath(new URL('./allreduce-rank.js', import.meta.url));
const sizes = (process.env.ALLREDUCE_MB ?? '10,50,100,400').split(',').map(Number);
const worlds = (process.env.ALLREDUCE_WORLDS ?? '2').split(',').map(Number);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const results: Record<string, unknown>[] = [];
for (const n of worlds) {
  const port = await freePort();
  const outputs = await Promise.all(
    Array.from({ length: n }, (_, r) =>
      new Promise<string>((resolve, reject) => {
        const c = spawn(process.execPath, ['--max-old-space-size=8192', script, String(r), String(n), String(port), sizes.join(','), '3'], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        c.stdout.on('data', (d) => (out += d));
        c.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`rank ${r} exited with ${code}`))));
      }),
    ),
  );
  const rows = JSON.parse(outputs[0].trim()) as { mb: number; seconds: number[] }[];
  for (const row of rows) {
    const s = median(row.seconds);
    const algbw = row.mb / 1024 / s;
    results.push({ case: `allreduce_${n}proc_${row.mb}MB`, processes: n, megabytes: row.mb, median_seconds: s, algbw_GBps: algbw, busbw_GBps: (algbw * 2 * (n - 1)) / n });
  }
}
console.log('case                          median s   algbw GB/s   busbw GB/s');
for (const r of results) console.log(`${String(r.case).padEnd(30)}${(r.median_seconds as number).toFixed(3).padStart(8)}${(r.algbw_GBps as number).toFixed(2).padStart(13)}${(r.busbw_GBps as number).toFixed(2).padStart(13)}`);
const dir = join(repoRoot(), 'bench-results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'allreduce.json'), JSON.stringify(results, null, 2) + '\n');
