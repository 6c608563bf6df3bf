/**
 * `npm run bench -w @openclip/train` (and the root `npm run bench`): our training step and
 * inference against the real OpenCLIP 3.1.0, side by side in one run. For every case and thread
 * setting it alternates rounds — the upstream side (../shared/upstream/openclip_train_step.py for
 * ClipLoss / CoCaLoss steps, bench/openclip_anchor.py for SigLipLoss and encode_image /
 * encode_text, both importing the unmodified upstream tree), then ours (dist-test/bench/step.js) —
 * each in a fresh process, with the same OpenBLAS environment. Threads: `1` runs both sides at
 * T=1; `2` runs ours on 2 threads against OpenCLIP's best 2-core setting (T=1 BLAS_T=2).
 * Prints samples/s of both sides, the ratio (ours / OpenCLIP, medians over rounds) and both
 * peak RSS figures; writes bench-results/openclip-anchor.json.
 *
 * Options: --cases a,b (default: all)  --threads 1,2  --rounds 2  --upstream DIR  --list
 *          --tiers openblas,ort (our accelerated tiers, each alternating with OpenCLIP rounds of its own;
 *          default: the fastest one present)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ACCEL_TIERS, initEngine } from '@openclip/engine';
import { repoRoot } from '@openclip/test-config';
import { median } from '@openclip/test-config/bench';

const here = dirname(fileURLToPath(import.meta.url));
const pkgRoot = resolve(here, '..', '..');

type Mode = 'train' | 'siglip' | 'image' | 'text';
interface Case { name: string; spec: string; batch: number; steps: number; mode: Mode }

/** `spec` names a built-in model or a config under the upstream bench-configs folder (`@file.json`). */
export const CASES: Case[] = [
  { name: 'tiny_train', spec: '@bench_tiny.json', batch: 64, steps: 5, mode: 'train' },
  { name: 'bench_small_train', spec: '@bench_small.json', batch: 64, steps: 5, mode: 'train' },
  { name: 'bench_small_siglip', spec: '@bench_small.json', batch: 64, steps: 5, mode: 'siglip' },
  { name: 'ViT-B-32_train', spec: 'ViT-B-32', batch: 64, steps: 2, mode: 'train' },
  { name: 'RN50_train', spec: 'RN50', batch: 8, steps: 3, mode: 'train' },
  { name: 'coca_ViT-B-32_train', spec: 'coca_ViT-B-32', batch: 16, steps: 2, mode: 'train' },
  { name: 'ViT-B-32_encode_image', spec: 'ViT-B-32', batch: 32, steps: 5, mode: 'image' },
  { name: 'ViT-B-32_encode_text', spec: 'ViT-B-32', batch: 32, steps: 5, mode: 'text' },
  { name: 'ViT-B-16-SigLIP_encode_image', spec: 'ViT-B-16-SigLIP', batch: 16, steps: 3, mode: 'image' },
  { name: 'ViT-B-32_train_b128_memory', spec: 'ViT-B-32', batch: 128, steps: 1, mode: 'train' },
  { name: 'convnext_base_encode_image', spec: 'convnext_base', batch: 8, steps: 3, mode: 'image' },
  { name: 'convnext_tiny_train', spec: 'convnext_tiny', batch: 8, steps: 2, mode: 'train' },
  { name: 'swin_base_encode_image', spec: 'swin_base_patch4_window7_224', batch: 8, steps: 3, mode: 'image' },
];

interface Side { median_s: number; samples_per_s: number; peak_rss_mb: number }

function lastJson(out: string): Side {
  const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) throw new Error(`no JSON result in output:\n${out.slice(-2000)}`);
  return JSON.parse(line) as Side;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Side {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', maxBuffer: 1 << 26, timeout: 3600_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout).trim().split('\n').slice(-5).join(' | ')}`);
  return lastJson(r.stdout);
}

const { values: opts } = parseArgs({
  options: {
    cases: { type: 'string' },
    threads: { type: 'string', default: '1,2' },
    rounds: { type: 'string', default: '2' },
    upstream: { type: 'string', default: resolve(repoRoot(), '..', 'shared', 'upstream') },
    list: { type: 'boolean', default: false },
    tiers: { type: 'string' },
  },
});
if (opts.list) {
  for (const c of CASES) console.log(`${c.name.padEnd(28)} ${c.spec} batch ${c.batch} ${c.mode}`);
  process.exit(0);
}
const upstream = resolve(opts.upstream);
const anchor = join(upstream, 'openclip_train_step.py');
const python = '/usr/bin/python3';
if (!existsSync(anchor)) throw new Error(`--upstream ${upstream}: openclip_train_step.py not found (the unmodified OpenCLIP tree and anchor script)`);
if (!existsSync(python)) throw new Error(`${python} not found: the OpenCLIP side needs Debian's python3-torch`);
const wanted = opts.cases ? opts.cases.split(',') : CASES.map((c) => c.name);
const unknown = wanted.filter((w) => !CASES.some((c) => c.name === w));
if (unknown.length) throw new Error(`--cases: unknown case(s) ${unknown.join(', ')} (see --list)`);
const threadSettings = opts.threads.split(',').map(Number);
if (threadSettings.some((t) => t !== 1 && t !== 2)) throw new Error(`--threads takes 1 and/or 2, got '${opts.threads}'`);
const rounds = Number(opts.rounds);
// our side's accelerated tiers (OPENCLIP_ACCEL): the fastest one present unless --tiers names others
const tiers = opts.tiers ? opts.tiers.split(',') : [null];
for (const t of tiers) if (t !== null && !(ACCEL_TIERS as readonly string[]).includes(t)) throw new Error(`--tiers: unknown tier '${t}' (choose from ${ACCEL_TIERS.join(', ')})`);
if (!(Number.isInteger(rounds) && rounds > 0)) throw new Error(`--rounds must be a positive integer, got '${opts.rounds}'`);

// the engine settles OPENBLAS_CORETYPE (only when the environment leaves it unset); both sides then share it
const info = await initEngine();
const baseEnv = { ...process.env };
const load0 = loadavg();
console.log(`ours: ${info.backend}/${info.accel.tier} (${info.accel.detail}); OPENBLAS_CORETYPE=${baseEnv.OPENBLAS_CORETYPE ?? 'unset'} OPENBLAS_L2_SIZE=${baseEnv.OPENBLAS_L2_SIZE ?? 'unset'}; load ${load0.map((x) => x.toFixed(2)).join(' ')}`);

interface Row {
  case: string; tier: string; threads: number; openclip_setting: string; batch: number; mode: Mode;
  samples_per_s: number; openclip_samples_per_s: number; ratio: number;
  peak_rss_mb: number; openclip_peak_rss_mb: number; rss_ratio: number;
  rounds: { ours: Side; openclip: Side }[];
}
const rows: Row[] = [];
for (const c of CASES.filter((x) => wanted.includes(x.name))) {
  const spec = c.spec.startsWith('@') ? join(upstream, 'bench-configs', c.spec.slice(1)) : c.spec;
  for (const [t, tier] of threadSettings.flatMap((t) => tiers.map((tier) => [t, tier] as const))) {
    const pyEnv = { ...baseEnv, T: '1', BLAS_T: String(t) };
    const ourEnv = { ...baseEnv, OPENCLIP_NUM_THREADS: String(t), ...(tier ? { OPENCLIP_ACCEL: tier } : {}) };
    const tierName = tier ?? info.accel.tier;
    const pyArgs = c.mode === 'train' ? [anchor, spec, String(c.batch), String(c.steps)]
      : [join(pkgRoot, 'bench', 'openclip_anchor.py'), upstream, spec, String(c.batch), String(c.steps), c.mode];
    const ourArgs = [join(here, 'step.js'), spec, String(c.batch), String(c.steps),
      ...(c.mode === 'siglip' ? ['--siglip'] : c.mode === 'image' || c.mode === 'text' ? ['--infer', c.mode] : [])];
    const rs: { ours: Side; openclip: Side }[] = [];
    for (let r = 0; r < rounds; r++) {
      const openclip = run(python, pyArgs, pyEnv);
      const ours = run(process.execPath, ourArgs, ourEnv);
      rs.push({ ours, openclip });
      console.log(`  ${c.name} ${tierName} T=${t} round ${r + 1}: ours ${ours.samples_per_s.toFixed(2)}/s (${ours.peak_rss_mb.toFixed(0)} MB), OpenCLIP ${openclip.samples_per_s.toFixed(2)}/s (${openclip.peak_rss_mb.toFixed(0)} MB); load ${loadavg()[0].toFixed(2)}`);
    }
    const ours = median(rs.map((x) => x.ours.samples_per_s)), oc = median(rs.map((x) => x.openclip.samples_per_s));
    const rss = median(rs.map((x) => x.ours.peak_rss_mb)), ocRss = median(rs.map((x) => x.openclip.peak_rss_mb));
    rows.push({
      case: c.name, tier: tierName, threads: t, openclip_setting: t === 1 ? 'T=1' : 'T=1 BLAS_T=2', batch: c.batch, mode: c.mode,
      samples_per_s: ours, openclip_samples_per_s: oc, ratio: ours / oc, peak_rss_mb: rss, openclip_peak_rss_mb: ocRss, rss_ratio: rss / ocRss, rounds: rs,
    });
  }
}
const load1 = loadavg();
console.log('');
console.log(`| case | our tier | threads (OpenCLIP) | ours samples/s | OpenCLIP samples/s | ratio | ours peak RSS MB | OpenCLIP peak RSS MB | RSS ratio |`);
console.log(`|---|---|---|---|---|---|---|---|---|`);
for (const r of rows) {
  console.log(`| ${r.case} | ${r.tier} | ${r.threads} (${r.openclip_setting}) | ${r.samples_per_s.toFixed(2)} | ${r.openclip_samples_per_s.toFixed(2)} | **${r.ratio.toFixed(2)}** | ${r.peak_rss_mb.toFixed(0)} | ${r.openclip_peak_rss_mb.toFixed(0)} | ${r.rss_ratio.toFixed(2)} |`);
}
for (const key of new Set(rows.map((r) => `${r.case}|${r.tier}`))) {
  const [c, tier] = key.split('|');
  const one = rows.find((r) => r.case === c && r.tier === tier && r.threads === 1), two = rows.find((r) => r.case === c && r.tier === tier && r.threads === 2);
  if (one && two) console.log(`scaling 1→2 threads, ${c} (${tier}): ours ${(two.samples_per_s / one.samples_per_s).toFixed(2)}x, OpenCLIP ${(two.openclip_samples_per_s / one.openclip_samples_per_s).toFixed(2)}x`);
}
console.log(`load average at start ${load0.map((x) => x.toFixed(2)).join(' ')}, at end ${load1.map((x) => x.toFixed(2)).join(' ')}`);
const dir = join(repoRoot(), 'bench-results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'openclip-anchor.json'), JSON.stringify({
  date: new Date().toISOString(), backend: info.backend, tier: info.accel.tier, detail: info.accel.detail,
  openblas_coretype: baseEnv.OPENBLAS_CORETYPE ?? null, load_start: load0, load_end: load1, rows,
}, null, 2) + '\n');
