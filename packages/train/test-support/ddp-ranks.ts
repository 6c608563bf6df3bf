/**
 * Starts the ranks of the data-parallel gradient test (ddp-rank.ts) over the TCP transport
 * (one child per rank on loopback) or under mpirun (`--dist-backend mpi`), and reads their results.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mpiAvailability } from '../src/distributed/mpi-transport.js';

const script = fileURLToPath(new URL('./ddp-rank.js', import.meta.url));

export type RankResult = { losses: Record<string, number>; grads: Record<string, number[]>; reducedInPlace?: number };

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function run(cmd: string, args: string[], what: string, timeoutMs: number, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('exit', (code, sig) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${what} exited with ${code ?? sig}`));
    });
  });
}

/** Every rank's results per mode, in rank order (`env`: added to the ranks' environment). */
export async function ddpRanks(backend: 'tcp' | 'mpi', world: number, modes: string[], timeoutMs = 240_000, env: NodeJS.ProcessEnv = {}): Promise<Record<string, RankResult>[]> {
  const dir = mkdtempSync(join(tmpdir(), 'ddp-'));
  try {
    const out = join(dir, '{rank}.json');
    if (backend === 'mpi') {
      const mpirun = mpiAvailability().mpirun ?? 'mpirun';
      await run(mpirun, ['--allow-run-as-root', '--oversubscribe', '-np', String(world), process.execPath, script, '-1', String(world), '0', modes.join(','), out, 'mpi'], `mpirun -np ${world}`, timeoutMs, env);
    } else {
      const port = await freePort();
      await Promise.all(Array.from({ length: world }, (_, r) => run(process.execPath, [script, String(r), String(world), String(port), modes.join(','), out, 'tcp'], `rank ${r}`, timeoutMs, env)));
    }
    return Array.from({ length: world }, (_, r) => JSON.parse(readFileSync(out.replace('{rank}', String(r)), 'utf8')).results);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
