/**
 * `npm run bench -- --backend webgpu [options]`: training-step throughput on the webgpu backend
 * (TF.js's WebGPU backend on Dawn) for the tiny and bench_small configurations
 * (/work/shared/upstream/bench-configs, OPENCLIP_BENCH_CONFIGS overrides) and ViT-B-32, each
 * beside the same step on a CPU backend (--compare, default wasm with its best tier) and beside
 * real OpenCLIP (openclip_train_step.py with PyTorch, when it imports) in the same run.
 * Then --memory-steps training steps of the tiny model on webgpu: tensor count, GPU bytes in live
 * buffers and in the backend's buffer pool, and RSS every 50 steps (they must stay flat).
 *
 * One step = forward, ClipLoss, backward, AdamW with OpenCLIP's parameter groups, logit-scale
 * clamp, and the loss read back (which waits for the GPU). Every case runs in its own process
 * (peak RSS per case). Writes bench-results/webgpu-steps.json.
 *
 * A tf.profile of one step of the first model gives the kernel time by kernel (what fused
 * kernels would pay for).
 *
 * Options: --models tiny,bench_small,ViT-B-32  --batch N (default 32; ViT-B-32: 8)  --steps 5
 * --warmup 2  --compare wasm|cpu|none  --memory-steps 500 (0 skips)  --no-torch  --no-profile
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { initEngine, tf, Rng, webgpuMemory, webgpuStatus } from '@openclip/engine';
import { createModel } from '@openclip/models';
import { ClipLoss } from '@openclip/losses';
import { repoRoot } from '@openclip/test-config';
import { AdamW, TrainStep, openclipParamGroups } from '../src/index.js';
import { median } from '@openclip/test-config/bench';

const MODELS = ['tiny', 'bench_small', 'ViT-B-32'] as const;
const configDir = process.env.OPENCLIP_BENCH_CONFIGS ?? join(repoRoot(), '..', 'shared', 'upstream', 'bench-configs');
const upstream = join(configDir, '..');

/** A model name: a bench config file (tiny → bench_tiny.json) or a built-in model. */
function modelSource(name: string): { config: string | Record<string, unknown>; torchArg: string } {
  const file = join(configDir, name.startsWith('bench_') ? `${name}.json` : `bench_${name}.json`);
  if (existsSync(file)) return { config: JSON.parse(readFileSync(file, 'utf8')), torchArg: file };
  if (name === 'tiny' || name === 'bench_small') throw new Error(`bench config for '${name}' not found at ${file} (set OPENCLIP_BENCH_CONFIGS)`);
  return { config: name, torchArg: name };
}

interface CaseResult {
  model: string;
  backend: string;
  detail: string;
  batch: number;
  stepSeconds: number[];
  medianSeconds: number;
  samplesPerSecond: number;
  peakRssMB: number;
  loss: number;
}

function makeStep(model: ReturnType<typeof createModel>) {
  model.train();
  const trainable = [...model.params.keys()].filter((k) => !model.frozen.has(k));
  const groups = openclipParamGroups(new Map(trainable.map((k) => [k, { shape: model.params.get(k)!.shape }])), 0.2);
  const optimizer = new AdamW(model.params, { lr: 1e-4, betas: [0.9, 0.98], eps: 1e-6, groups });
  return new TrainStep(model, new ClipLoss(), optimizer, { trainable });
}

function makeBatch(rng: Rng, B: number, size: number, ctx: number) {
  const images = tf.tensor4d(rng.fillNormal(new Float32Array(B * 3 * size * size)), [B, 3, size, size]);
  const tok = new Int32Array(B * ctx);
  for (let b = 0; b < B; b++) {
    tok[b * ctx] = 49406;
    for (let j = 1; j < 20; j++) tok[b * ctx + j] = 1 + rng.randint(49404);
    tok[b * ctx + 20] = 49407;
  }
  return { images, tokens: tf.tensor2d(tok, [B, ctx], 'int32') };
}

/** Child: one model on one backend; prints one JSON line. */
async function runCase(model: string, backend: string, batch: number, steps: number, warmup: number): Promise<void> {
  const info = await initEngine({ backend });
  const src = modelSource(model);
  const m = createModel(src.config, { seed: 0 });
  const vision = m.config.vision_cfg as { image_size: number | number[] };
  const size = Array.isArray(vision.image_size) ? vision.image_size[0] : vision.image_size;
  const ctx = Number((m.config.text_cfg as { context_length?: number }).context_length ?? 77);
  const step = makeStep(m);
  const rng = new Rng(1);
  const batchData = makeBatch(rng, batch, size, ctx);
  const times: number[] = [];
  let loss = NaN;
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    loss = step.run([batchData], 1e-4).total; // reads the loss back: waits for the device
    if (i >= warmup) times.push((performance.now() - t0) / 1000);
  }
  const detail = info.backend === 'webgpu' ? (webgpuStatus()?.reason ?? '') : `${info.backend}/${info.accel.tier}`;
  const med = median(times);
  const r: CaseResult = { model, backend: info.backend, detail, batch, stepSeconds: times, medianSeconds: med, samplesPerSecond: batch / med, peakRssMB: process.resourceUsage().maxRSS / 1024, loss };
  console.log(JSON.stringify(r));
}

/** Child: tensor count and GPU memory over many steps of the tiny model on webgpu. */
async function runMemory(steps: number, batch: number): Promise<void> {
  await initEngine({ backend: 'webgpu' });
  const m = createModel(modelSource('tiny').config, { seed: 0 });
  const step = makeStep(m);
  const rng = new Rng(2);
  const rows: Array<{ step: number; numTensors: number; gpuBytesInUse: number; gpuBytesAllocated: number; rssMB: number }> = [];
  for (let i = 1; i <= steps; i++) {
    const b = makeBatch(rng, batch, 64, 77);
    step.run([b], 1e-4);
    tf.dispose([b.images, b.tokens]);
    if (i % 10 === 0 || i === 1) {
      const g = webgpuMemory()!;
      rows.push({ step: i, numTensors: tf.memory().numTensors, gpuBytesInUse: g.bytesInUse, gpuBytesAllocated: g.bytesAllocated, rssMB: process.memoryUsage().rss / 2 ** 20 });
    }
  }
  console.log(JSON.stringify(rows));
}

/** Child: tf.profile of one step of `model` on webgpu; kernel time (GPU timestamps when the adapter has timestamp-query) by kernel name. */
async function runProfile(model: string, batch: number): Promise<void> {
  await initEngine({ backend: 'webgpu' });
  const m = createModel(modelSource(model).config, { seed: 0 });
  const vision = m.config.vision_cfg as { image_size: number | number[] };
  const size = Array.isArray(vision.image_size) ? vision.image_size[0] : vision.image_size;
  const step = makeStep(m);
  const b = makeBatch(new Rng(3), batch, size, Number((m.config.text_cfg as { context_length?: number }).context_length ?? 77));
  step.run([b], 1e-4);
  const t0 = performance.now();
  const info = await tf.profile(() => {
    step.run([b], 1e-4);
  });
  const wallMs = performance.now() - t0;
  const by = new Map<string, { count: number; ms: number }>();
  for (const k of info.kernels) {
    const e = by.get(k.name) ?? { count: 0, ms: 0 };
    e.count++;
    e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    by.set(k.name, e);
  }
  const kernels = [...by.entries()].map(([name, e]) => ({ name, ...e })).sort((x, y) => y.ms - x.ms);
  console.log(JSON.stringify({ model, batch, wallMs, kernels }));
}

function child(args: string[]): string {
  const script = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited with ${r.status}: ${r.stderr.split('\n').filter((l) => l && !/artificially reduced/.test(l)).slice(-5).join(' | ')}`);
  return r.stdout.trim().split('\n').pop()!;
}

function torchStep(model: string, batch: number, steps: number): { samplesPerSecond: number; peakRssMB: number } | string {
  const script = join(upstream, 'openclip_train_step.py');
  if (!existsSync(script)) return `no ${script}`;
  const threads = process.env.OPENCLIP_NUM_THREADS ?? '2';
  const r = spawnSync('/usr/bin/python3', [script, modelSource(model).torchArg, String(batch), String(steps)], { encoding: 'utf8', env: { ...process.env, T: threads }, timeout: 3600_000 });
  if (r.status !== 0) return `PyTorch OpenCLIP did not run: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`;
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
  return { samplesPerSecond: j.samples_per_s, peakRssMB: j.peak_rss_mb };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'webgpu' },
      models: { type: 'string', default: MODELS.join(',') },
      batch: { type: 'string' },
      steps: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
      compare: { type: 'string', default: 'wasm' },
      'memory-steps': { type: 'string', default: '500' },
      'no-torch': { type: 'boolean', default: false },
      child: { type: 'string' },
      model: { type: 'string' },
      'case-backend': { type: 'string', default: 'webgpu' },
      'no-profile': { type: 'boolean', default: false },
    },
  });
  const int = (k: string, v: string | undefined, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${k}: expected an integer >= ${min}, got '${v}'`);
    return n;
  };
  if (values.backend !== 'webgpu') throw new Error(`--backend: this bench measures the webgpu backend (got '${values.backend}'); other backends are measured by each package's own bench (npm run bench)`);
  const steps = int('steps', values.steps, 1), warmup = int('warmup', values.warmup, 0);
  if (values.child === 'case') return runCase(values.model!, values['case-backend']!, int('batch', values.batch, 1), steps, warmup);
  if (values.child === 'profile') return runProfile(values.model!, int('batch', values.batch, 1));
  if (values.child === 'memory') return runMemory(int('memory-steps', values['memory-steps'], 1), int('batch', values.batch, 1));

  const models = values.models!.split(',').filter(Boolean);
  for (const m of models) modelSource(m);
  if (!['wasm', 'cpu', 'none'].includes(values.compare!)) throw new Error(`--compare: expected wasm, cpu or none, got '${values.compare}'`);
  const memorySteps = int('memory-steps', values['memory-steps'], 0);

  // Fail at start when there is no adapter, with Dawn's reason.
  await initEngine({ backend: 'webgpu' });
  const adapter = webgpuStatus()!;
  console.log(`webgpu: ${adapter.reason}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);

  const rows: Array<Record<string, unknown>> = [];
  for (const model of models) {
    const batch = values.batch ? int('batch', values.batch, 1) : model === 'ViT-B-32' ? 8 : 32;
    const run = (backend: string) => {
      const out = child(['--child', 'case', '--case-backend', backend, '--model', model, '--batch', String(batch), '--steps', String(steps), '--warmup', String(warmup)]);
      return JSON.parse(out) as CaseResult;
    };
    const gpu = run('webgpu');
    const cpu = values.compare !== 'none' ? run(values.compare!) : null;
    const torch = values['no-torch'] ? 'not run (--no-torch)' : torchStep(model, batch, steps);
    const row = {
      model,
      batch,
      webgpuSamplesPerSecond: gpu.samplesPerSecond,
      webgpuMedianStepSeconds: gpu.medianSeconds,
      webgpuPeakRssMB: gpu.peakRssMB,
      compare: cpu ? { backend: cpu.detail, samplesPerSecond: cpu.samplesPerSecond, peakRssMB: cpu.peakRssMB, lossDifference: Math.abs(cpu.loss - gpu.loss) } : null,
      webgpuOverCompare: cpu ? gpu.samplesPerSecond / cpu.samplesPerSecond : null,
      torch: typeof torch === 'string' ? { note: torch } : torch,
      webgpuOverTorch: typeof torch === 'string' ? null : gpu.samplesPerSecond / torch.samplesPerSecond,
      loadAverage: loadavg(),
    };
    rows.push(row);
    console.log(
      `${model.padEnd(12)} batch ${String(batch).padStart(3)}  webgpu ${gpu.samplesPerSecond.toFixed(2)} samples/s (step ${gpu.medianSeconds.toFixed(3)} s, peak RSS ${gpu.peakRssMB.toFixed(0)} MB)` +
        (cpu ? `  ${cpu.detail} ${cpu.samplesPerSecond.toFixed(2)} samples/s → ratio ${(gpu.samplesPerSecond / cpu.samplesPerSecond).toFixed(2)}` : '') +
        (typeof torch === 'string' ? `  torch: ${torch}` : `  PyTorch OpenCLIP ${torch.samplesPerSecond.toFixed(2)} samples/s → ratio ${(gpu.samplesPerSecond / torch.samplesPerSecond).toFixed(2)}`),
    );
  }
  let profile: unknown = null;
  if (!values['no-profile']) {
    const batch = values.batch ? int('batch', values.batch, 1) : 32;
    const p = JSON.parse(child(['--child', 'profile', '--model', models[0], '--batch', String(batch)])) as { wallMs: number; kernels: Array<{ name: string; count: number; ms: number }> };
    profile = p;
    const total = p.kernels.reduce((s, k) => s + k.ms, 0);
    console.log(`profile of one ${models[0]} step (batch ${batch}) on webgpu: ${p.kernels.reduce((s, k) => s + k.count, 0)} kernels, ${total.toFixed(0)} ms kernel time, ${p.wallMs.toFixed(0)} ms wall`);
    for (const k of p.kernels.slice(0, 12)) console.log(`  ${k.name.padEnd(24)} ${String(k.count).padStart(5)} calls ${k.ms.toFixed(1).padStart(9)} ms  ${((100 * k.ms) / total).toFixed(1)}%`);
  }
  let memory: unknown = null;
  if (memorySteps > 0) {
    const batch = values.batch ? int('batch', values.batch, 1) : 32;
    const series = JSON.parse(child(['--child', 'memory', '--memory-steps', String(memorySteps), '--batch', String(batch)])) as Array<{ step: number; numTensors: number; gpuBytesInUse: number; gpuBytesAllocated: number; rssMB: number }>;
    const after = series.filter((r) => r.step >= 50);
    const flat = (k: 'numTensors' | 'gpuBytesInUse') => new Set(after.map((r) => r[k])).size === 1;
    memory = { steps: memorySteps, batch, series, numTensorsFlat: flat('numTensors'), gpuBytesInUseFlat: flat('gpuBytesInUse') };
    for (const r of series) console.log(`memory step ${String(r.step).padStart(4)}  tensors ${r.numTensors}  GPU in use ${(r.gpuBytesInUse / 2 ** 20).toFixed(1)} MB  GPU pool ${(r.gpuBytesAllocated / 2 ** 20).toFixed(1)} MB  RSS ${r.rssMB.toFixed(0)} MB`);
    console.log(`memory after step 50: tensor count ${flat('numTensors') ? 'flat' : 'NOT flat'}, GPU bytes in live tensors ${flat('gpuBytesInUse') ? 'flat' : 'NOT flat'}`);
  }
  const dir = join(repoRoot(), 'bench-results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'webgpu-steps.json'), JSON.stringify({ adapter: adapter.adapter, reason: adapter.reason, steps, warmup, rows, profile, memory }, null, 2) + '\n');
  console.log(`wrote ${join(dir, 'webgpu-steps.json')}`);
}

await main();
