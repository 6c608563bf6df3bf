/**
 * `node dist-test/bench/ddp-step.js` (part of `npm run bench -w @openclip/train`): where the time of a
 * data-parallel step goes (--local-loss --gather-with-grad, random batches, one thread per
 * process), side by side with real OpenCLIP under torch DDP (gloo) in the same run. Cases, run in
 * turn DDP_REPEATS times (medians reported): one process alone (`TrainStep`); two such processes
 * at once (no communication: the machine's ceiling for any data-parallel scheme), and from their
 * per-step times the lockstep bound (the slower of the two steps, every step: what a synchronous
 * step would reach with free communication); two processes of
 * one data-parallel world over the TCP transport, and over Open MPI (mpirun) when the addon is
 * built; then OpenCLIP's step in one process and in two under DDP (bench/ddp_step.py,
 * /usr/bin/python3). Efficiency = samples/s / (2 × that implementation's one process).
 * Env: DDP_MODEL (ViT-Tiny-8-64-demo; `bench_small` = ../shared/upstream/bench-configs/bench_small.json),
 * DDP_BATCH (32), DDP_STEPS (20), DDP_REPEATS (3), DDP_TORCH (1; 0 leaves torch out).
 * Writes bench-results/ddp-step.json.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '@openclip/test-config';
import { mpiAvailability } from '../src/distributed/mpi-transport.js';
import { median } from '@openclip/test-config/bench';

const script = fileURLToPath(new URL('./ddp-step-rank.js', import.meta.url));
const batch = Number(process.env.DDP_BATCH ?? 32);
const steps = Number(process.env.DDP_STEPS ?? 20);
const repeats = Number(process.env.DDP_REPEATS ?? 3);
const upstream = join(repoRoot(), '..', 'shared', 'upstream');
const modelArg = process.env.DDP_MODEL ?? 'ViT-Tiny-8-64-demo';
const spec = modelArg === 'bench_small' || modelArg === 'bench_tiny' ? join(upstream, 'bench-configs', `${modelArg}.json`) : modelArg;
const withTorch = process.env.DDP_TORCH !== '0';
const mpi = mpiAvailability();
const pyScript = join(repoRoot(), 'packages', 'train', 'bench', 'ddp_step.py');
/** What OpenCLIP is given: a config file for our own built-in configs (the demo model), which it does not ship. */
const ownConfig = join(repoRoot(), 'packages', 'models', 'src', 'model-configs', `${spec}.json`);
const torchSpec = !spec.endsWith('.json') && existsSync(ownConfig) ? ownConfig : spec;
type Phases = { grads: number; loss: number; allReduce: number; update: number; step: number; samplesPerSecond: number; stepTimes?: number[] };

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function launch(cmd: string, args: string[], what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, OPENCLIP_NUM_THREADS: '1', T: '1', OMP_NUM_THREADS: '1' } });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${what} exited with ${code}`))));
  });
}
const proc = (args: string[]) => launch(process.execPath, [script, ...args, spec], `ddp-step-rank ${args.join(' ')}`);
const lastJson = (out: string) => JSON.parse(out.trim().split('\n').filter((l) => l.startsWith('{')).pop()!);

const common = [String(batch), String(steps)];
type CaseName = 'one' | 'independent' | 'lockstep' | 'ddp' | 'ddp-mpi' | 'torch-one' | 'torch-ddp';
/** The lockstep bound of the last `independent` run (filled in by it, read by the `lockstep` case). */
let lockstep: Phases | null = null;
async function runCase(which: CaseName): Promise<Phases> {
  if (which === 'one') return lastJson(await proc(['0', '1', '0', ...common, 'alone']));
  if (which === 'independent') {
    const both = (await Promise.all([0, 1].map(() => proc(['0', '1', '0', ...common, 'alone'])))).map((o) => lastJson(o) as Phases);
    // two processes that waited for each other once per step, with communication free: step i
    // ends when the slower of the two ends it (their steps run side by side, give or take a start
    // offset), the best any synchronous data-parallel step can do on this machine
    const [a, b] = both.map((p) => p.stepTimes ?? []);
    const slower = a.map((t, i) => Math.max(t, b[i] ?? t));
    const step = slower.reduce((x, y) => x + y, 0) / Math.max(1, slower.length);
    lockstep = { grads: NaN, loss: NaN, allReduce: NaN, update: NaN, step, samplesPerSecond: (2 * batch * 1000) / step };
    return { ...both[0], samplesPerSecond: both[0].samplesPerSecond + both[1].samplesPerSecond };
  }
  if (which === 'lockstep') {
    if (!lockstep) throw new Error('the lockstep bound comes from the independent processes, which did not run');
    return lockstep;
  }
  if (which === 'ddp-mpi') return lastJson(await launch(mpi.mpirun!, ['--allow-run-as-root', '--oversubscribe', '-np', '2', process.execPath, script, '-1', '2', '0', ...common, 'ddp', spec, 'mpi'], 'mpirun ddp-step-rank'));
  const port = String(await freePort());
  if (which === 'torch-one' || which === 'torch-ddp') {
    const world = which === 'torch-one' ? 1 : 2;
    const outs = await Promise.all(Array.from({ length: world }, (_, r) => launch('/usr/bin/python3', [pyScript, upstream, torchSpec, String(r), String(world), port, ...common], `ddp_step.py rank ${r}`)));
    const t = lastJson(outs[0]) as { step_ms: number; samples_per_s: number };
    return { grads: NaN, loss: NaN, allReduce: NaN, update: NaN, step: t.step_ms, samplesPerSecond: t.samples_per_s };
  }
  const outs = await Promise.all([0, 1].map((r) => proc([String(r), '2', port, ...common, 'ddp'])));
  return lastJson(outs.find((o) => o.trim())!);
}

const cases: CaseName[] = ['one', 'independent', 'lockstep', 'ddp', ...(mpi.ok ? (['ddp-mpi'] as const) : []), ...(withTorch ? (['torch-one', 'torch-ddp'] as const) : [])];
if (!mpi.ok) console.log(`Open MPI case left out: ${mpi.reason}`);
const runs: Record<string, Phases[]> = Object.fromEntries(cases.map((c) => [c, []]));
const loads: string[] = [];
for (let i = 0; i < repeats; i++) {
  loads.push(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  for (const c of cases) runs[c].push(await runCase(c));
}
const med = (c: string, k: Exclude<keyof Phases, 'stepTimes'>) => median(runs[c].map((r) => r[k]));
const base = med('one', 'samplesPerSecond');
const labels: Record<CaseName, string> = { one: '1 process', independent: '2 independent processes', lockstep: '  same, lockstep bound', ddp: '2 processes, DP over TCP', 'ddp-mpi': '2 processes, DP over MPI', 'torch-one': 'OpenCLIP 1 process', 'torch-ddp': 'OpenCLIP 2 proc. DDP gloo' };
const rows = cases.map((c) => ({
  case: labels[c],
  grads_ms: med(c, 'grads'),
  loss_ms: med(c, 'loss'),
  allreduce_ms: med(c, 'allReduce'),
  update_ms: med(c, 'update'),
  step_ms: med(c, 'step'),
  samples_per_s: med(c, 'samplesPerSecond'),
  efficiency: c === 'one' || c === 'torch-one' ? 1 : med(c, 'samplesPerSecond') / (2 * (c === 'torch-ddp' ? med('torch-one', 'samplesPerSecond') : base)),
}));
console.log(`${modelArg}, batch ${batch} per process, ${steps} timed steps, ${repeats} repeats (medians); load average at each repeat: ${loads.join(', ')}`);
console.log('case                          grads ms  (loss ms)  all-reduce ms  update ms  step ms  samples/s  efficiency');
for (const r of rows) {
  const f = (x: number) => (Number.isNaN(x) ? '-' : x.toFixed(0));
  console.log(`${r.case.padEnd(28)}${f(r.grads_ms).padStart(10)}${(r.case.includes('DP over') ? f(r.loss_ms) : '-').padStart(11)}${f(r.allreduce_ms).padStart(15)}${f(r.update_ms).padStart(11)}${r.step_ms.toFixed(0).padStart(9)}${r.samples_per_s.toFixed(1).padStart(11)}${r.efficiency.toFixed(2).padStart(12)}`);
}
const dir = join(repoRoot(), 'bench-results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'ddp-step.json'), JSON.stringify({ model: modelArg, batch, steps, repeats, loads, rows }, null, 2) + '\n');
