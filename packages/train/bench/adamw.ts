/**
 * Benchmark: one AdamW step (OpenCLIP's two groups) over a ViT-B/32-sized set of parameters
 * (112.7M in 87 tensors: 12 blocks of width 768 plus embeddings), with both update kernels on
 * each TensorFlow.js backend, beside
 * torch.optim.AdamW (foreach off, as OpenCLIP 3.1.0 on torch 1.13 runs it, and on) when
 * /usr/bin/python3 has torch, at the same thread count. Prints a table and writes
 * bench-results/adamw.json. Run: `node dist-test/bench/adamw.js` from packages/train.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { engineInfo, initEngine, numThreads, Rng, tf } from '@openclip/engine';
import type { Variable } from '@openclip/engine';
import { repoRoot } from '@openclip/test-config';
import { AdamW } from '../src/optim/adamw.js';
import { openclipParamGroups } from '../src/optim/param-groups.js';
import { median, runTorchBench } from '@openclip/test-config/bench';

const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'cpu,wasm').split(',');
const W = 768;
const BLOCKS = Number(process.env.BENCH_BLOCKS ?? 12);

function shapes(): [string, number[]][] {
  const out: [string, number[]][] = [['token_embedding.weight', [49408, 512]], ['visual.conv1.weight', [W, 3, 32, 32]], ['logit_scale', []]];
  for (let b = 0; b < BLOCKS; b++) {
    const p = `visual.transformer.resblocks.${b}`;
    out.push([`${p}.attn.in_proj_weight`, [3 * W, W]], [`${p}.attn.in_proj_bias`, [3 * W]], [`${p}.attn.out_proj.weight`, [W, W]]);
    out.push([`${p}.mlp.c_fc.weight`, [4 * W, W]], [`${p}.mlp.c_fc.bias`, [4 * W]], [`${p}.mlp.c_proj.weight`, [W, 4 * W]], [`${p}.ln_1.weight`, [W]]);
  }
  return out;
}

const threads = numThreads();
const list = shapes();
const total = list.reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0);
const rows: { impl: string; ms: number }[] = [];
for (const backend of BACKENDS) {
  await initEngine({ backend });
  const rng = new Rng(1);
  const params = new Map<string, Variable>();
  const grads = new Map<string, tf.Tensor>();
  for (const [name, shape] of list) {
    const n = shape.reduce((x, y) => x * y, 1);
    const t = tf.tensor(rng.fillNormal(new Float32Array(n), 0, 0.02), shape);
    params.set(name, tf.variable(t, true, `${backend}:${name}`));
    t.dispose();
    grads.set(name, tf.tensor(rng.fillNormal(new Float32Array(n), 0, 1e-3), shape));
  }
  for (const kernel of ['exact', 'engine'] as const) {
    const opt = new AdamW(params, { lr: 5e-4, betas: [0.9, 0.98], eps: 1e-6, groups: openclipParamGroups(params, 0.2), kernel });
    const times: number[] = [];
    for (let r = 0; r <= REPEATS; r++) {
      const t0 = performance.now();
      opt.step(grads);
      await params.get('logit_scale')!.data();
      if (r > 0) times.push(performance.now() - t0);
    }
    rows.push({ impl: `AdamW ${kernel} kernel (${backend}, accel ${engineInfo()?.accel?.tier ?? '-'})`, ms: median(times) });
    opt.dispose();
  }
  tf.dispose([...params.values(), ...grads.values()]);
}

const py = `
import json, sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
shapes = ${JSON.stringify(list.map(([n, s]) => [n, s]))}
out = []
for foreach in [False, True]:
    g = torch.Generator().manual_seed(1)
    ps = [(n, torch.nn.Parameter(torch.randn(s, generator=g) * 0.02)) for n, s in shapes]
    for _, p in ps: p.grad = torch.randn(p.shape, generator=g) * 1e-3
    ex = lambda n, p: p.ndim < 2 or 'bn' in n or 'ln' in n or 'bias' in n or 'logit_scale' in n
    opt = torch.optim.AdamW([{'params': [p for n, p in ps if ex(n, p)], 'weight_decay': 0.}, {'params': [p for n, p in ps if not ex(n, p)], 'weight_decay': 0.2}], lr=5e-4, betas=(0.9, 0.98), eps=1e-6, foreach=foreach)
    ts = []
    for r in range(${REPEATS + 1}):
        t0 = time.perf_counter(); opt.step(); ms = (time.perf_counter() - t0) * 1000
        if r > 0: ts.append(ms)
    out.append({'impl': 'torch.optim.AdamW foreach=%s, %s thread(s)' % (foreach, sys.argv[1]), 'ms': sorted(ts)[len(ts)//2]})
print(json.dumps({'torch': torch.__version__, 'rows': out}))
`;
const torch = runTorchBench<{ impl: string; ms: number }>(py, threads);
rows.push(...torch.rows);
const torchVersion = torch.torchVersion;
console.log(`AdamW step over ${(total / 1e6).toFixed(1)}M parameters in ${list.length} tensors, median of ${REPEATS}, threads ${threads}, OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? '-'}`);
console.log('| implementation | ms / step | M params / s |');
for (const r of rows) console.log(`| ${r.impl} | ${r.ms.toFixed(0)} | ${(total / 1e3 / r.ms).toFixed(0)} |`);
const dir = join(repoRoot(), 'bench-results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'adamw.json'), JSON.stringify({ bench: 'adamw', params: total, tensors: list.length, repeats: REPEATS, threads, torch: torchVersion, rows }, null, 2));
