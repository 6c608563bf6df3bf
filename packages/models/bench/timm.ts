/**
 * `node packages/models/dist-test/bench/timm.js` (part of `npm run bench -w @openclip/models`):
 * encode_image of a timm-tower model (default ViT-B-16-SigLIP, random weights) here and in the real
 * OpenCLIP 3.1.0 + timm 1.0.28 (timm_bench_upstream.py under /usr/bin/python3, a persistent process
 * built once), at the same thread count (default 1), in alternating rounds of one call each, so
 * both see the same machine load. Prints medians, the speed ratio (PyTorch time / ours), CPU time,
 * peak RSS and the load average, and writes bench-results/timm-towers.json at the repo root.
 *
 * Options: --model ViT-B-16-SigLIP  --batch 4  --rounds 7  --threads 1  --backend auto
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initEngine, tf } from '@openclip/engine';
import { createModel } from '../src/model/create.js';
import type { CLIP } from '../src/model/clip.js';
import { median } from '@openclip/test-config/bench';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..', '..', '..');
const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
const UPSTREAM = process.env.OPENCLIP_UPSTREAM_DIR ?? resolve(repoRoot, '..', 'shared', 'upstream');
const DEADLINE_MS = 20 * 60_000;

interface Upstream {
  request(): Promise<{ wall_s: number; cpu_s: number; peak_rss_mib: number }>;
  ready: Record<string, unknown>;
  close(): void;
}

/** Starts the persistent real-OpenCLIP process, or says why it cannot. */
async function startUpstream(model: string, batch: number, threads: number): Promise<Upstream | string> {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  if (!existsSync(join(UPSTREAM, 'open_clip-3.1.0'))) return `OpenCLIP sources not found at ${UPSTREAM} (OPENCLIP_UPSTREAM_DIR)`;
  const script = resolve(repoRoot, 'packages', 'models', 'bench', 'timm.py');
  const env = {
    ...process.env,
    PYTHONPATH: ['pyshim', 'open_clip-3.1.0/src', 'timm-1.0.28'].map((p) => join(UPSTREAM, p)).join(':'),
    T: String(threads), OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads),
  };
  const child = spawn(PYTHON, [script, model, String(batch)], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`upstream did not answer within ${DEADLINE_MS / 1000} s`)), DEADLINE_MS); });
    try {
      const r = await Promise.race([lines.next(), deadline]);
      if (r.done) throw new Error(`upstream exited: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
      return JSON.parse(r.value) as Record<string, unknown>;
    } finally {
      clearTimeout(timer);
    }
  };
  try {
    const ready = await next();
    return {
      ready,
      request: async () => {
        child.stdin.write('run\n');
        return (await next()) as { wall_s: number; cpu_s: number; peak_rss_mib: number };
      },
      close: () => { child.stdin.end(); child.kill(); },
    };
  } catch (e) {
    child.kill();
    return (e as Error).message;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'ViT-B-16-SigLIP' },
      batch: { type: 'string', default: '4' },
      rounds: { type: 'string', default: '7' },
      threads: { type: 'string', default: '1' },
      backend: { type: 'string', default: 'auto' },
    },
  });
  const threads = Number(values.threads);
  process.env.OPENCLIP_NUM_THREADS = String(threads);
  const info = await initEngine({ backend: values.backend });
  const batch = Number(values.batch);
  const rounds = Number(values.rounds);
  const model = createModel(values.model, { seed: 0 }) as CLIP;
  const [h, w] = model.visual.imageSize;
  const images = tf.randomNormal([batch, 3, h, w], 0, 1, 'float32', 1);
  const ours = () => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const f = model.encodeImage(images);
    f.dataSync();
    f.dispose();
    const cpu = process.cpuUsage(c0);
    return { wall: (performance.now() - t0) / 1000, cpu: (cpu.user + cpu.system) / 1e6 };
  };
  ours(); // warm-up
  const up = await startUpstream(values.model, batch, threads);
  const oursWall: number[] = [];
  const oursCpu: number[] = [];
  const torchWall: number[] = [];
  const torchCpu: number[] = [];
  let torchRss = 0;
  const load0 = loadavg();
  for (let r = 0; r < rounds; r++) {
    const o = ours();
    oursWall.push(o.wall);
    oursCpu.push(o.cpu);
    if (typeof up !== 'string') {
      const t = await up.request();
      torchWall.push(t.wall_s);
      torchCpu.push(t.cpu_s);
      torchRss = Math.max(torchRss, t.peak_rss_mib);
    }
  }
  const load1 = loadavg();
  if (typeof up !== 'string') up.close();
  const oursRss = process.resourceUsage().maxRSS / 1024;
  const result = {
    model: values.model, what: `encode_image ${h}x${w}`, batch, rounds, threads,
    backend: info.backend, accel: (info as unknown as { accel?: { tier?: string } }).accel?.tier ?? null,
    ours: { median_s: median(oursWall), cpu_median_s: median(oursCpu), runs_s: oursWall, peak_rss_mib: Math.round(oursRss) },
    openclip: typeof up === 'string' ? { skipped: up } : { median_s: median(torchWall), cpu_median_s: median(torchCpu), runs_s: torchWall, peak_rss_mib: Math.round(torchRss), ...up.ready },
    speed_vs_openclip: typeof up === 'string' ? null : median(torchWall) / median(oursWall),
    loadavg_before: load0, loadavg_after: load1,
  };
  console.log(`${values.model} encode_image batch ${batch}, ${threads} thread(s), ${info.backend}: ours median ${result.ours.median_s.toFixed(3)} s` +
    (typeof up === 'string' ? ` (OpenCLIP skipped: ${up})` : `, OpenCLIP ${median(torchWall).toFixed(3)} s, speed ours/OpenCLIP ${result.speed_vs_openclip!.toFixed(2)}x`) +
    `; peak RSS ours ${result.ours.peak_rss_mib} MiB${typeof up === 'string' ? '' : `, OpenCLIP ${Math.round(torchRss)} MiB`}; load ${load0.map((x) => x.toFixed(1)).join(' ')}`);
  const dir = join(repoRoot, 'bench-results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'timm-towers.json'), JSON.stringify(result, null, 2));
  images.dispose();
  model.dispose();
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
