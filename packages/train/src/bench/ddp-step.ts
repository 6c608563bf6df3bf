/**
 * `node dist/bench/ddp-step.js` (part of `npm run bench -w @openclip/train`): where the time of a
 * data-parallel step goes, on the demo model (ViT-Tiny-8-64-demo, --local-loss
 * --gather-with-grad) with random batches, one thread per process. Three cases, run in turn
 * DDP_REPEATS times (medians reported): one process alone (`TrainStep`, what `openclip train`
 * runs on one process); two such processes at once (no communication: what this machine allows
 * two processes, the ceiling of any data-parallel scheme); two processes of one data-parallel
 * world (`DistributedTrainStep`). Efficiency = samples/s / (2 × one process).
 * Writes bench-results/ddp-step.json.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '@openclip/test-config';

const script = fileURLToPath(new URL('./ddp-step-rank.js', import.meta.url));
const batch = Number(process.env.DDP_BATCH ?? 32);
const steps = Number(process.env.DDP_STEPS ?? 20);
const repeats = Number(process.env.DDP_REPEATS ?? 3);
type Phases = { grads: number; loss: number; allReduce: number; update: number; step: number; samplesPerSecond: number };

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function proc(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, OPENCLIP_NUM_THREADS: '1' } });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`ddp-step-rank ${args.join(' ')} exited with ${code}`))));
  });
}

const common = [String(batch), String(steps)];
async function runCase(which: 'one' | 'independent' | 'ddp'): Promise<Phases> {
  if (which === 'one') return JSON.parse(await proc(['0', '1', '0', ...common, 'alone']));
  if (which === 'independent') {
    const both = (await Promise.all([0, 1].map(() => proc(['0', '1', '0', ...common, 'alone'])))).map((o) => JSON.parse(o) as Phases);
    return { ...both[0], samplesPerSecond: both[0].samplesPerSecond + both[1].samplesPerSecond };
  }
  const port = String(await freePort());
  const outs = await Promise.all([0, 1].map((r) => proc([String(r), '2', port, ...common, 'ddp'])));
  return JSON.parse(outs.find((o) => o.trim())!);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const cases = ['one', 'independent', 'ddp'] as const;
const runs: Record<string, Phases[]> = { one: [], independent: [], ddp: [] };
const loads: string[] = [];
for (let i = 0; i < repeats; i++) {
  loads.push(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  for (const c of cases) runs[c].push(await runCase(c));
}
const med = (c: string, k: keyof Phases) => median(runs[c].map((r) => r[k]));
const base = med('one', 'samplesPerSecond');
const rows = cases.map((c) => ({
  case: { one: '1 process', independent: '2 independent processes', ddp: '2 processes, data-parallel' }[c],
  grads_ms: med(c, 'grads'),
  loss_ms: med(c, 'loss'),
  allreduce_ms: med(c, 'allReduce'),
  update_ms: med(c, 'update'),
  step_ms: med(c, 'step'),
  samples_per_s: med(c, 'samplesPerSecond'),
  efficiency: c === 'one' ? 1 : med(c, 'samplesPerSecond') / (2 * base),
}));
console.log(`batch ${batch} per process, ${steps} timed steps, ${repeats} repeats (medians); load average at each repeat: ${loads.join(', ')}`);
console.log('case                          grads ms  (loss ms)  all-reduce ms  update ms  step ms  samples/s  efficiency');
for (const r of rows) {
  console.log(`${r.case.padEnd(28)}${r.grads_ms.toFixed(0).padStart(10)}${(r.case.includes('data-parallel') ? r.loss_ms.toFixed(0) : '-').padStart(11)}${r.allreduce_ms.toFixed(0).padStart(15)}${r.update_ms.toFixed(0).padStart(11)}${r.step_ms.toFixed(0).padStart(9)}${r.samples_per_s.toFixed(1).padStart(11)}${r.efficiency.toFixed(2).padStart(12)}`);
}
const dir = join(repoRoot(), 'bench-results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'ddp-step.json'), JSON.stringify({ batch, steps, repeats, loads, rows }, null, 2) + '\n');
