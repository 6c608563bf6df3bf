/**
 * Checkpoint I/O benchmark: reading a ~100 MB state dict as a torch zip pickle
 * (`open_clip_pytorch_model.bin`), as fp16 pickle (with upcast), and as safetensors; writing
 * both formats. Compares with `torch.load` when /usr/bin/python3 has torch.
 * Run: `npm run build -w @openclip/models && node packages/models/dist-test/bench/checkpoint.js`
 * (prints a table, writes bench-results/checkpoint-io.json at the repo root).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { f32ToF16, type RawTensor } from '@openclip/engine/safetensors';
import { repoRoot } from '@openclip/test-config';
import { loadStateDict, saveStateDict } from '../src/checkpoint/checkpoint-file.js';
import { saveTorchStateDict } from '../src/checkpoint/torch-save.js';
import { median } from '@openclip/test-config/bench';

function time(fn: () => void, reps: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    out.push(performance.now() - t0);
  }
  return out;
}

/** A ViT-B/16-like layer stack scaled to ~25M parameters. */
function makeStateDict(): Map<string, RawTensor> {
  const sd = new Map<string, RawTensor>();
  let seed = 1;
  const rand = (n: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      a[i] = (seed / 2 ** 32 - 0.5) * 0.04;
    }
    return a;
  };
  const W = 768;
  for (let l = 0; l < 4; l++) {
    const p = `visual.transformer.resblocks.${l}`;
    sd.set(`${p}.attn.in_proj_weight`, { dtype: 'F32', shape: [3 * W, W], data: rand(3 * W * W) });
    sd.set(`${p}.attn.in_proj_bias`, { dtype: 'F32', shape: [3 * W], data: rand(3 * W) });
    sd.set(`${p}.attn.out_proj.weight`, { dtype: 'F32', shape: [W, W], data: rand(W * W) });
    sd.set(`${p}.mlp.c_fc.weight`, { dtype: 'F32', shape: [4 * W, W], data: rand(4 * W * W) });
    sd.set(`${p}.mlp.c_proj.weight`, { dtype: 'F32', shape: [W, 4 * W], data: rand(4 * W * W) });
    for (const n of ['ln_1', 'ln_2']) {
      sd.set(`${p}.${n}.weight`, { dtype: 'F32', shape: [W], data: rand(W) });
      sd.set(`${p}.${n}.bias`, { dtype: 'F32', shape: [W], data: rand(W) });
    }
  }
  sd.set('token_embedding.weight', { dtype: 'F32', shape: [49408, 512], data: rand(49408 * 512) });
  return sd;
}

const reps = Number(process.env.BENCH_REPS ?? 5);
const dir = mkdtempSync(join(tmpdir(), 'openclip-ckpt-bench-'));
try {
  const sd = makeStateDict();
  const params = [...sd.values()].reduce((a, t) => a + t.data.length, 0);
  const half = new Map([...sd].map(([k, t]) => [k, { dtype: 'F16' as const, shape: t.shape, data: f32ToF16(t.data as Float32Array) }]));
  const bin = join(dir, 'open_clip_pytorch_model.bin');
  const bin16 = join(dir, 'fp16.bin');
  const st = join(dir, 'open_clip_model.safetensors');
  const rows: { case: string; ms: number[]; median_ms: number; mb_per_s: number }[] = [];
  const add = (name: string, ms: number[], bytes: number) => rows.push({ case: name, ms, median_ms: median(ms), mb_per_s: bytes / 1e6 / (median(ms) / 1000) });
  add('write torch zip (saveTorchStateDict)', time(() => saveTorchStateDict(bin, sd), reps), params * 4);
  add('write safetensors (saveStateDict)', time(() => saveStateDict(st, sd), reps), params * 4);
  saveTorchStateDict(bin16, half);
  add('read torch zip F32 (loadStateDict)', time(() => loadStateDict(bin), reps), statSync(bin).size);
  add('read torch zip F16 + upcast (loadStateDict)', time(() => loadStateDict(bin16), reps), statSync(bin16).size);
  add('read safetensors (loadStateDict)', time(() => loadStateDict(st), reps), statSync(st).size);
  const py = spawnSync('/usr/bin/python3', ['-c', `
import time, torch, json, sys
torch.set_num_threads(1)
ts = []
for _ in range(${reps}):
    t0 = time.perf_counter(); torch.load(sys.argv[1], map_location='cpu', weights_only=True); ts.append((time.perf_counter() - t0) * 1000)
print(json.dumps({'torch': torch.__version__, 'ms': ts}))
`, bin], { encoding: 'utf8' });
  let torchNote = 'torch not available';
  if (py.status === 0) {
    const r = JSON.parse(py.stdout.trim()) as { torch: string; ms: number[] };
    add(`torch.load(weights_only=True) torch ${r.torch}`, r.ms, statSync(bin).size);
    torchNote = `torch ${r.torch}`;
  }
  console.log(`checkpoint I/O, ${params.toLocaleString()} float32 parameters (${(params * 4 / 1e6).toFixed(0)} MB), median of ${reps}; ${torchNote}`);
  console.log(`${'case'.padEnd(48)} ${'median ms'.padStart(10)} ${'MB/s'.padStart(8)}`);
  for (const r of rows) console.log(`${r.case.padEnd(48)} ${r.median_ms.toFixed(1).padStart(10)} ${r.mb_per_s.toFixed(0).padStart(8)}`);
  const out = join(repoRoot(), 'bench-results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'checkpoint-io.json'), JSON.stringify({ params, reps, node: process.version, rows }, null, 2));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
