/**
 * `npm run bench -w @openclip/engine`: training and inference throughput of the engine tiers
 * against PyTorch (bench/torch_bench.py, same shapes, same thread count, same OpenBLAS
 * environment) in the same run. Each (case, tier) runs in a fresh process; the table and
 * bench-results/engine.json get samples/s, PyTorch's samples/s, their ratio and peak RSS.
 * A memory check (500 training steps by default) records tensors and RSS over time.
 *
 * Options: --cases a,b  --tiers openblas,ort,js,none  --steps N  --warmup N  --fallback-steps N
 *          --memory-steps N (0 = skip)  --rounds N (alternating PyTorch/engine rounds)  --no-torch
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initEngine } from '../backend.js';
import { numThreads } from '../threads.js';
import { loadOrt } from '../accel/ort.js';
import { tf } from '../tf.js';
import { CASES, type CaseSpec, makeRunner } from './cases.js';

const here = dirname(fileURLToPath(import.meta.url));
const pkgRoot = resolve(here, '..', '..');
const repoRoot = resolve(pkgRoot, '..', '..');
const TORCH_SCRIPT = join(pkgRoot, 'bench', 'torch_bench.py');
const PYTHON = '/usr/bin/python3';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

interface ChildResult { case: string; tier: string; step_s: number; samples_per_s: number; peak_rss_mb: number; detail: string }

/** Child mode: one case on one tier, JSON on the last stdout line. */
async function child(caseName: string, tier: string, warmup: number, steps: number): Promise<void> {
  const c = CASES.find((x) => x.name === caseName);
  if (!c) throw new Error(`unknown bench case '${caseName}'`);
  const info = await initEngine({ backend: 'wasm', accel: tier });
  const runner = makeRunner(c);
  for (let i = 0; i < warmup; i++) runner.step();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    runner.step();
    times.push((performance.now() - t0) / 1000);
  }
  runner.dispose();
  const step = median(times);
  const res: ChildResult = {
    case: c.name, tier, step_s: step, samples_per_s: c.batch / step, peak_rss_mb: process.resourceUsage().maxRSS / 1024, detail: info.accel.detail,
  };
  console.log(JSON.stringify(res));
}

/** Child mode: the memory check (train steps, tensors and RSS sampled over time). */
async function memoryChild(caseName: string, tier: string, steps: number): Promise<void> {
  const c = CASES.find((x) => x.name === caseName)!;
  await initEngine({ backend: 'wasm', accel: tier });
  const runner = makeRunner(c);
  const warm = Math.min(20, Math.max(1, Math.floor(steps / 10)));
  const samples: { step: number; tensors: number; rss_mb: number }[] = [];
  for (let i = 1; i <= steps; i++) {
    runner.step();
    if (i === warm || i % 50 === 0 || i === steps) samples.push({ step: i, tensors: tf.memory().numTensors, rss_mb: process.memoryUsage().rss / 2 ** 20 });
  }
  runner.dispose();
  const atWarm = samples[0], last = samples[samples.length - 1];
  const maxRss = Math.max(...samples.map((s) => s.rss_mb));
  console.log(JSON.stringify({
    case: c.name, tier, steps, warmup_steps: warm, tensors_after_warmup: atWarm.tensors, tensors_at_end: last.tensors,
    rss_after_warmup_mb: atWarm.rss_mb, rss_max_mb: maxRss, rss_growth: maxRss / atWarm.rss_mb - 1,
    tensors_flat: samples.every((s) => s.tensors === atWarm.tensors), samples,
  }));
}

function runNode(args: string[]): any {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`bench child ${args.join(' ')} failed: ${r.stderr.split('\n').slice(-8).join('\n')}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

function runTorch(cases: string[], threads: number, warmup: number, steps: number): Map<string, { samples_per_s: number; peak_rss_mb: number }> {
  const out = new Map<string, { samples_per_s: number; peak_rss_mb: number }>();
  // torch.set_num_threads does not reach OpenBLAS's own pthread pool (it defaults to the core
  // count), so the BLAS thread count is set for PyTorch exactly as the engine sets it for itself.
  const env = { ...process.env, OPENBLAS_NUM_THREADS: String(threads) };
  const r = spawnSync(PYTHON, [TORCH_SCRIPT, String(threads), String(warmup), String(steps), ...cases], { encoding: 'utf8', env });
  if (r.status !== 0) {
    console.error(`PyTorch side failed: ${r.stderr.split('\n').slice(-5).join('\n')}`);
    return out;
  }
  for (const line of r.stdout.trim().split('\n')) {
    const j = JSON.parse(line);
    out.set(j.case, j);
  }
  return out;
}

function torchAvailable(): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const r = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  return r.status === 0 ? null : 'torch is not importable by /usr/bin/python3';
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      memory: { type: 'string' },
      tier: { type: 'string', default: 'openblas' },
      cases: { type: 'string', default: CASES.map((c) => c.name).join(',') },
      tiers: { type: 'string', default: 'openblas,ort,js' },
      warmup: { type: 'string', default: '2' },
      steps: { type: 'string', default: '7' },
      'fallback-steps': { type: 'string', default: '2' },
      'memory-steps': { type: 'string', default: '500' },
      'no-torch': { type: 'boolean', default: false },
      rounds: { type: 'string', default: '2' },
    },
  });
  const warmup = Number(values.warmup), steps = Number(values.steps);
  if (values.child) return child(values.child, values.tier!, warmup, steps);
  if (values.memory) return memoryChild(values.memory, values.tier!, steps);

  const threads = numThreads();
  const probe = await initEngine({ backend: 'wasm' });
  const ortStatus = loadOrt(threads);
  const tiers = values.tiers!.split(',').filter((t) => {
    if (!['openblas', 'ort', 'js', 'none'].includes(t)) throw new Error(`--tiers: unknown tier '${t}' (openblas, ort, js, none)`);
    if (t === 'openblas' && probe.accel.tier !== 'openblas') {
      console.log(`tier openblas skipped: ${probe.accel.detail}`);
      return false;
    }
    if (t === 'ort' && !ortStatus.addon) {
      console.log(`tier ort skipped: ${ortStatus.detail}`);
      return false;
    }
    return true;
  });
  // the native tiers get full runs alternating with PyTorch; the JavaScript ones a short run
  const isFast = (t: string) => t === 'openblas' || t === 'ort';
  const cases: CaseSpec[] = values.cases!.split(',').map((n) => {
    const c = CASES.find((x) => x.name === n);
    if (!c) throw new Error(`--cases: unknown case '${n}' (known: ${CASES.map((x) => x.name).join(', ')})`);
    return c;
  });
  const noTorch = values['no-torch'] ? '--no-torch given' : torchAvailable();
  console.log(`engine bench: ${threads} thread(s) (OPENCLIP_NUM_THREADS), tiers ${tiers.join(', ')}; accel: ${probe.accel.detail}`);
  console.log(`OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? '(unset)'} OPENBLAS_L2_SIZE=${process.env.OPENBLAS_L2_SIZE ?? '(unset)'} (PyTorch runs with the same environment)`);
  if (noTorch) console.log(`PyTorch comparison skipped: ${noTorch}`);

  const rows: Record<string, unknown>[] = [];
  const rounds = Math.max(1, Number(values.rounds));
  for (const c of cases) {
    // PyTorch and the engine's fastest tier alternate for `rounds` rounds per case (fresh processes),
    // so both see the same machine load; each figure is the median over its rounds.
    const torchRuns: { samples_per_s: number; peak_rss_mb: number }[] = [];
    const fastRuns = new Map<string, ChildResult[]>();
    const fastErrors = new Map<string, Error>();
    for (let k = 0; k < rounds; k++) {
      if (!noTorch) {
        const tr = runTorch([c.name], threads, warmup, steps).get(c.name);
        if (tr) torchRuns.push(tr);
      }
      for (const tier of tiers.filter(isFast)) {
        if (fastErrors.has(tier)) continue;
        try {
          const r = runNode(['--child', c.name, '--tier', tier, '--warmup', String(warmup), '--steps', String(steps)]);
          fastRuns.set(tier, [...(fastRuns.get(tier) ?? []), r]);
        } catch (e) {
          fastErrors.set(tier, e as Error);
        }
      }
    }
    const t = torchRuns.length
      ? { samples_per_s: median(torchRuns.map((x) => x.samples_per_s)), peak_rss_mb: Math.max(...torchRuns.map((x) => x.peak_rss_mb)) }
      : undefined;
    for (const tier of tiers) {
      const fast = isFast(tier);
      const s = fast ? steps : Math.max(1, Number(values['fallback-steps']));
      const w = fast ? warmup : 1;
      let r: ChildResult;
      try {
        if (fast) {
          const runs = fastRuns.get(tier);
          if (!runs) throw fastErrors.get(tier) ?? new Error('no run');
          r = { ...runs[0], samples_per_s: median(runs.map((x) => x.samples_per_s)), step_s: median(runs.map((x) => x.step_s)), peak_rss_mb: Math.max(...runs.map((x) => x.peak_rss_mb)) };
        } else {
          r = runNode(['--child', c.name, '--tier', tier, '--warmup', String(w), '--steps', String(s)]);
        }
      } catch (e) {
        const error = (e as Error).message.split('\n').find((l) => /status|memory|Error/i.test(l)) ?? (e as Error).message.split('\n')[0];
        console.log(`${`${c.name}@${tier}`.padEnd(28)} failed: ${error}`);
        rows.push({ case: `${c.name}@${tier}`, tier, samples_per_s: null, torch_samples_per_s: t ? t.samples_per_s : null, ratio: null, error, threads });
        continue;
      }
      const row = {
        case: tier === 'openblas' ? c.name : `${c.name}@${tier}`,
        tier,
        samples_per_s: r.samples_per_s,
        torch_samples_per_s: t ? t.samples_per_s : null,
        ratio: t ? r.samples_per_s / t.samples_per_s : null,
        step_ms: r.step_s * 1000,
        peak_rss_mb: r.peak_rss_mb,
        torch_peak_rss_mb: t ? t.peak_rss_mb : null,
        steps: s,
        rounds: fast ? rounds : 1,
        threads,
      };
      rows.push(row);
      const f = (x: number | null, d = 1) => (x === null ? '-' : x.toFixed(d));
      console.log(`${row.case.padEnd(28)} ${f(row.samples_per_s).padStart(9)}/s  torch ${f(row.torch_samples_per_s).padStart(9)}/s  ratio ${f(row.ratio, 2).padStart(5)}  step ${f(row.step_ms, 0).padStart(6)} ms  peak RSS ${f(row.peak_rss_mb, 0)} MB (torch ${f(row.torch_peak_rss_mb, 0)} MB)`);
    }
  }
  const outDir = join(repoRoot, 'bench-results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'engine.json'), JSON.stringify(rows, null, 2) + '\n');
  console.log(`wrote ${join(outDir, 'engine.json')}`);

  const memSteps = Number(values['memory-steps']);
  if (memSteps > 0) {
    const tier = tiers[0];
    const m = runNode(['--memory', 'block2_train', '--tier', tier, '--steps', String(memSteps)]);
    console.log(`memory: block2_train x${memSteps} on ${tier}: tensors ${m.tensors_after_warmup} after warm-up, ${m.tensors_at_end} at end (flat: ${m.tensors_flat}); RSS ${m.rss_after_warmup_mb.toFixed(0)} MB after warm-up, max ${m.rss_max_mb.toFixed(0)} MB (+${(m.rss_growth * 100).toFixed(1)}%)`);
    writeFileSync(join(outDir, 'engine-memory.json'), JSON.stringify(m, null, 2) + '\n');
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
