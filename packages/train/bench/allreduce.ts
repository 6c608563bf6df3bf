/**
 * `npm run bench:allreduce -w @openclip/train`: all-reduce bandwidth on loopback, openclip-ts's TCP
 * transport (and its Open MPI backend when the addon and mpirun are there) side by side with
 * torch.distributed's gloo (/usr/bin/python3, bench/allreduce.py) in one run, and with Open MPI's
 * own MPI_Allreduce called from C (`mpi-c`, bench/allreduce-mpi.c, when mpicc is there), which
 * tells our addon's cost apart from Open MPI's. The TCP and gloo worlds stay up for the whole run
 * (the MPI ones start per measurement, see `mpiWorld`) and the measurements are interleaved
 * (round by round, size by size, the order rotating), so load from other jobs hits every backend
 * alike. Reports medians, the ratio to gloo (gloo's time / ours: above 1 = faster than gloo) and
 * the load average before and after; writes bench-results/allreduce.json.
 *
 * Env: ALLREDUCE_MB (10,50,100,400), ALLREDUCE_ROUNDS (5), ALLREDUCE_WORLD (2),
 * ALLREDUCE_BACKENDS (tcp,gloo[,mpi,mpi-c when available]), PYTHON (/usr/bin/python3).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { repoRoot } from '@openclip/test-config';
import { mpiAvailability } from '../src/distributed/mpi-transport.js';
import { median } from '@openclip/test-config/bench';

const rankScript = fileURLToPath(new URL('./allreduce-rank.js', import.meta.url));
const glooScript = join(repoRoot(), 'packages', 'train', 'bench', 'allreduce.py');
const sizes = (process.env.ALLREDUCE_MB ?? '10,50,100,400').split(',').map(Number);
const rounds = Number(process.env.ALLREDUCE_ROUNDS ?? 5);
const world = Number(process.env.ALLREDUCE_WORLD ?? 2);
const python = process.env.PYTHON ?? '/usr/bin/python3';
const mpi = mpiAvailability();
const asked = process.env.ALLREDUCE_BACKENDS?.split(',') ?? null;
const mpiC = mpi.ok && (!asked || asked.includes('mpi-c')) ? buildMpiC() : null;
const backends = asked ?? ['tcp', 'gloo', ...(mpi.ok ? ['mpi'] : []), ...(mpiC ? ['mpi-c'] : [])];
if (!mpi.ok && !process.env.ALLREDUCE_BACKENDS) console.log(`mpi: not measured (${mpi.reason})`);

/** bench/allreduce-mpi.c built with mpicc into a temporary folder: Open MPI's all-reduce without Node (backend `mpi-c`), or null. */
function buildMpiC(): { bin: string; dir: string } | null {
  const dir = mkdtempSync(join(tmpdir(), 'allreduce-mpi-'));
  const bin = join(dir, 'allreduce-mpi');
  const r = spawnSync('mpicc', ['-O2', '-o', bin, join(repoRoot(), 'packages', 'train', 'bench', 'allreduce-mpi.c')], { encoding: 'utf8' });
  if (r.status === 0) return { bin, dir };
  rmSync(dir, { recursive: true, force: true });
  console.log(`mpi-c: not measured (mpicc: ${r.error?.message ?? r.stderr.trim().split('\n')[0]})`);
  return null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** A running world: `ask` writes one command to its driver's stdin and resolves with the answer line. */
interface World {
  name: string;
  ask(line: string): Promise<{ mb: number; seconds: number[] }>;
  stop(): void;
}

function lineReader(c: ChildProcess, name: string): () => Promise<string> {
  const it = createInterface({ input: c.stdout! })[Symbol.asyncIterator]();
  return async () => {
    const deadline = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${name}: no answer in 900 s`)), 900_000).unref());
    const r = await Promise.race([it.next(), deadline]);
    if (r.done) throw new Error(`${name}: exited before answering`);
    return r.value;
  };
}

/**
 * Open MPI's ranks poll while they wait in a collective, so an MPI world kept up between its own
 * measurements would take CPU from the other backends' (with it up, gloo's and TCP's figures
 * were 1.2–2x slower). Each MPI measurement therefore starts its own mpirun; start-up and
 * the warm-up all-reduce stay untimed.
 */
function mpiWorld(name: 'mpi' | 'mpi-c', env: NodeJS.ProcessEnv): World {
  const launcher = ['--allow-run-as-root', '--oversubscribe', '-np', String(world)];
  return {
    name,
    async ask(line) {
      const args = name === 'mpi' ? [...launcher, process.execPath, '--max-old-space-size=8192', rankScript, '0', String(world), '0', 'mpi'] : [...launcher, mpiC!.bin, ...line.split(' ')];
      const p = spawn(mpi.mpirun!, args, { stdio: ['pipe', 'pipe', 'inherit'], env });
      const exited = new Promise<void>((resolve) => p.once('exit', (code, sig) => (code && console.error(`${name}: mpirun exited with ${code ?? sig}`), resolve())));
      const read = lineReader(p, `${name} rank 0`);
      if (name === 'mpi') {
        JSON.parse(await read()); // ready
        p.stdin!.write(`${line}\n`);
      }
      p.stdin!.end(); // one measurement, then end of input ends every rank
      const answer = JSON.parse(await read()) as { mb: number; seconds: number[] };
      await exited;
      return answer;
    },
    stop() {},
  };
}

async function startWorld(name: string): Promise<World> {
  const port = await freePort();
  const env = { ...process.env, OMP_NUM_THREADS: '1' };
  let procs: ChildProcess[];
  if (name === 'gloo') procs = Array.from({ length: world }, (_, r) => spawn(python, [glooScript, String(r), String(world), String(port)], { stdio: ['pipe', 'pipe', 'inherit'], env }));
  else if (name === 'tcp') procs = Array.from({ length: world }, (_, r) => spawn(process.execPath, ['--max-old-space-size=8192', rankScript, String(r), String(world), String(port), 'tcp'], { stdio: [r === 0 ? 'pipe' : 'ignore', r === 0 ? 'pipe' : 'ignore', 'inherit'], env }));
  else if (name === 'mpi' || name === 'mpi-c') {
    if (!mpi.ok || (name === 'mpi-c' && !mpiC)) throw new Error(`ALLREDUCE_BACKENDS: ${name} cannot run here (${mpi.ok ? 'mpicc could not build bench/allreduce-mpi.c' : mpi.reason})`);
    return mpiWorld(name, env);
  }
  else throw new Error(`ALLREDUCE_BACKENDS: unknown backend '${name}' (tcp, gloo, mpi, mpi-c)`);
  for (const p of procs) p.on('exit', (code, sig) => code && console.error(`${name}: a rank exited with ${code ?? sig}`));
  const readers = procs.filter((p) => p.stdout).map((p, i) => lineReader(p, `${name} rank ${i}`));
  if (name !== 'gloo') JSON.parse(await readers[0]()); // ready
  else await Promise.all(readers.map((r) => r()));
  return {
    name,
    async ask(line) {
      for (const p of procs) p.stdin?.write(`${line}\n`);
      const answers = await Promise.all(readers.map((r) => r()));
      return JSON.parse(answers[0]) as { mb: number; seconds: number[] };
    },
    stop() {
      for (const p of procs) p.stdin?.end();
    },
  };
}

const loadBefore = loadavg();
const worlds: World[] = [];
for (const b of backends) worlds.push(await startWorld(b));
const samples = new Map<string, number[]>(); // `${backend}:${mb}` -> seconds
for (let round = 0; round < rounds; round++) {
  for (const mb of sizes) {
    for (let k = 0; k < worlds.length; k++) {
      const w = worlds[(k + round) % worlds.length];
      const r = await w.ask(`${mb} 1`);
      const key = `${w.name}:${mb}`;
      samples.set(key, [...(samples.get(key) ?? []), ...r.seconds]);
    }
  }
}
for (const w of worlds) w.stop();
if (mpiC) rmSync(mpiC.dir, { recursive: true, force: true });
const loadAfter = loadavg();

const results: Record<string, unknown>[] = [];
for (const mb of sizes) {
  const gloo = samples.get(`gloo:${mb}`);
  for (const b of backends) {
    const s = median(samples.get(`${b}:${mb}`)!);
    const algbw = mb / 1024 / s;
    results.push({ case: `allreduce_${b}_${world}proc_${mb}MB`, backend: b, processes: world, megabytes: mb, median_seconds: s, seconds: samples.get(`${b}:${mb}`), algbw_GBps: algbw, busbw_GBps: (algbw * 2 * (world - 1)) / world, vs_gloo: gloo ? median(gloo) / s : null });
  }
}
console.log(`${world} processes, ${rounds} interleaved rounds, load average before ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, after ${loadAfter.map((x) => x.toFixed(2)).join(' ')}`);
console.log('backend   MB     median ms   algbw GB/s   gloo time / ours');
for (const r of results) console.log(`${String(r.backend).padEnd(8)}${String(r.megabytes).padStart(4)}${((r.median_seconds as number) * 1000).toFixed(1).padStart(14)}${(r.algbw_GBps as number).toFixed(2).padStart(13)}${r.vs_gloo === null ? '' : (r.vs_gloo as number).toFixed(2).padStart(19)}`);
const dir = join(repoRoot(), 'bench-results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'allreduce.json'), JSON.stringify({ world, rounds, loadBefore, loadAfter, results }, null, 2) + '\n');
