/**
 * `npm run bench -w @openclip/cli`: data-parallel scaling on this machine — the same training
 * (demo model, webdataset shards made by make-dataset) with 1 process at batch B and with
 * `openclip launch --nproc-per-node 2` at batch B per rank, each process on one thread.
 * Scaling efficiency = samples/s with 2 processes / (2 × samples/s with 1). On a shared machine
 * that ratio follows the other jobs' load, so the bench also reports the CPU time each run used
 * (its whole process tree, from /proc/self/stat's cutime + cstime: start-up, data workers and
 * training) per 1000 samples; CPU efficiency = CPU per sample with 1 process / with 2 processes
 * counts the work data parallelism adds and ignores time spent waiting for a core. Writes
 * bench-results/scaling.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '@openclip/test-config';
import { median } from '@openclip/test-config/bench';

const bin = fileURLToPath(new URL('../../bin/run.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'openclip-scaling-'));
const batch = Number(process.env.SCALING_BATCH ?? 32);
const samples = Number(process.env.SCALING_SAMPLES ?? 1536);
const env = { ...process.env, OPENCLIP_NUM_THREADS: '1' };

/** CPU seconds used so far by this process's finished children (and theirs): cutime + cstime. */
function childCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields 16 and 17 of proc(5), counted from the state field (3)
  return (Number(f[16 - 3]) + Number(f[17 - 3])) / 100;
}

let lastCpu = 0;
function run(args: string[]): string {
  const before = childCpuSeconds();
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env, maxBuffer: 64 << 20 });
  lastCpu = childCpuSeconds() - before;
  if (r.status !== 0) throw new Error(`openclip ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

/** Samples/s of every logged step after the first few (OpenCLIP's "N/s" field). */
function throughput(log: string): number {
  const v = [...log.matchAll(/Batch \(t\): [0-9.]+, ([0-9.]+)\/s,/g)].map((m) => Number(m[1]));
  if (v.length < 4) throw new Error(`too few logged steps:\n${log.slice(-2000)}`);
  return median(v.slice(2));
}

run(['make-dataset', '--type', 'webdataset', '--num-samples', String(samples), '--shard-size', String(samples / 8), '--image-size', '64', '--out', join(dir, 'shards')]);
const common = ['--train-data', join(dir, 'shards', '{00000..00007}.tar'), '--dataset-type', 'webdataset', '--model', 'ViT-Tiny-8-64-demo', '--precision', 'fp32', '--epochs', '1', '--batch-size', String(batch), '--workers', '1', '--log-every-n-steps', '1', '--lr', '1e-3', '--warmup', '5'];
const load0 = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
const one = throughput(run(['train', ...common, '--logs', join(dir, 'logs'), '--name', 'p1']));
const cpuOne = (1000 * lastCpu) / samples;
// the launcher prefixes rank 1's lines; rank 0's lines carry the global samples/s
const twoLog = run(['launch', '--nproc-per-node', '2', '--', 'train', ...common, '--logs', join(dir, 'logs'), '--name', 'p2']);
const cpuTwo = (1000 * lastCpu) / samples;
const two = throughput(twoLog.split('\n').filter((l) => !l.startsWith('[1]')).join('\n'));
const load1 = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
const rows = [
  { case: 'train_1proc', processes: 1, batch_per_process: batch, samples_per_s: one, cpu_s_per_1k_samples: cpuOne },
  { case: 'train_2proc', processes: 2, batch_per_process: batch, samples_per_s: two, cpu_s_per_1k_samples: cpuTwo, scaling_efficiency: two / (2 * one), cpu_efficiency: cpuOne / cpuTwo },
];
console.log(`load average ${load0} before, ${load1} after`);
console.log('case          processes  batch/proc  samples/s  efficiency  cpu s/1k samples  cpu efficiency');
for (const r of rows) {
  const eff = 'scaling_efficiency' in r ? [(r.scaling_efficiency as number).toFixed(2), (r.cpu_efficiency as number).toFixed(2)] : ['', ''];
  console.log(`${r.case.padEnd(14)}${String(r.processes).padStart(9)}${String(r.batch_per_process).padStart(12)}${r.samples_per_s.toFixed(1).padStart(11)}${eff[0].padStart(12)}${r.cpu_s_per_1k_samples.toFixed(1).padStart(18)}${eff[1].padStart(16)}`);
}
const out = join(repoRoot(), 'bench-results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'scaling.json'), JSON.stringify(rows, null, 2) + '\n');
