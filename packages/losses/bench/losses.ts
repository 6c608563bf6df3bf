/**
 * Benchmark: ClipLoss and SigLipLoss forward + backward (lossAndGrads, world size 1) at CLIP
 * training batch sizes on each TensorFlow.js backend, beside the same computation in PyTorch
 * when /usr/bin/python3 has torch (the cpu backend only up to batch 256 unless BENCH_CPU_ALL is set). Both sides use the same thread count (OPENCLIP_NUM_THREADS,
 * default the number of cores). Prints a table and writes bench-results/losses.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initEngine, numThreads, Rng, tf } from '@openclip/engine';
import { repoRoot } from '@openclip/test-config';
import { ClipLoss } from '../src/clip-loss.js';
import type { OpenClipLoss } from '../src/loss-api.js';
import { SigLipLoss } from '../src/siglip-loss.js';
import { median, runTorchBench } from '@openclip/test-config/bench';

const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const SIZES = (process.env.BENCH_BATCHES ?? '256,1024').split(',').map(Number);
const DIM = 512;
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'cpu,wasm').split(',');

function features(rng: Rng, n: number): tf.Tensor {
  const t = tf.tensor(rng.fillNormal(new Float32Array(n * DIM)), [n, DIM]);
  const out = tf.tidy(() => tf.div(t, tf.norm(t, 2, 1, true)));
  t.dispose();
  return out;
}

interface Row {
  loss: string;
  batch: number;
  backend: string;
  ms: number;
}

const rows: Row[] = [];
const threads = numThreads();
for (const backend of BACKENDS) {
  await initEngine({ backend });
  // The pure-JS cpu backend takes seconds per step at batch 1024: only the small sizes unless asked.
  for (const batch of SIZES.filter((b) => backend !== 'cpu' || b <= 256 || process.env.BENCH_CPU_ALL)) {
    const rng = new Rng(batch);
    const img = features(rng, batch);
    const txt = features(rng, batch);
    const scale = tf.scalar(Math.exp(2.659));
    const bias = tf.scalar(-10);
    const cases: [string, OpenClipLoss, boolean][] = [
      ['ClipLoss', new ClipLoss({ cacheLabels: true }), false],
      ['SigLipLoss', new SigLipLoss(), true],
    ];
    for (const [name, loss, withBias] of cases) {
      const times: number[] = [];
      for (let r = 0; r <= REPEATS; r++) {
        const t0 = performance.now();
        const out = await loss.lossAndGrads({ image_features: img, text_features: txt, logit_scale: scale, logit_bias: withBias ? bias : null });
        await out.grads.image_features!.data();
        const ms = performance.now() - t0;
        tf.dispose([out.total, ...Object.values(out.losses), ...Object.values(out.grads)] as tf.Tensor[]);
        if (r > 0) times.push(ms);
      }
      rows.push({ loss: name, batch, backend, ms: median(times) });
      loss.dispose();
    }
    tf.dispose([img, txt, scale, bias]);
  }
}

// PyTorch: the same math (F.cross_entropy / F.logsigmoid as in open_clip/loss.py), forward + backward.
const py = `
import json, sys, time, torch, torch.nn.functional as F
torch.set_num_threads(int(sys.argv[1]))
out = []
for n in [${SIZES.join(',')}]:
    g = torch.Generator().manual_seed(n)
    img = F.normalize(torch.randn(n, ${DIM}, generator=g), dim=-1).requires_grad_()
    txt = F.normalize(torch.randn(n, ${DIM}, generator=g), dim=-1).requires_grad_()
    s = torch.tensor(2.659).exp().requires_grad_()
    b = torch.tensor(-10.0, requires_grad=True)
    labels = torch.arange(n)
    def clip():
        lpi = s * img @ txt.T
        lpt = s * txt @ img.T
        return (F.cross_entropy(lpi, labels) + F.cross_entropy(lpt, labels)) / 2
    def sig():
        logits = s * img @ txt.T + b
        lab = 2 * torch.eye(n) - torch.ones(n, n)
        return -F.logsigmoid(lab * logits).sum() / n
    for name, fn in [('ClipLoss', clip), ('SigLipLoss', sig)]:
        ts = []
        for r in range(${REPEATS + 1}):
            img.grad = txt.grad = s.grad = b.grad = None
            t0 = time.perf_counter(); fn().backward(); ms = (time.perf_counter() - t0) * 1000
            if r > 0: ts.append(ms)
        out.append({'loss': name, 'batch': n, 'backend': 'pytorch %st' % sys.argv[1], 'ms': sorted(ts)[len(ts)//2]})
print(json.dumps({'torch': torch.__version__, 'rows': out}))
`;
const torch = runTorchBench<Row>(py, threads);
rows.push(...torch.rows);
const torchVersion = torch.torchVersion;

console.log(`losses: lossAndGrads (forward + backward), D=${DIM}, median of ${REPEATS}, threads ${threads}, OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? '-'}`);
console.log('| loss | batch | ' + [...new Set(rows.map((r) => r.backend))].join(' ms | ') + ' ms |');
for (const name of ['ClipLoss', 'SigLipLoss']) {
  for (const batch of SIZES) {
    const cells = [...new Set(rows.map((r) => r.backend))].map((b) => rows.find((r) => r.loss === name && r.batch === batch && r.backend === b)?.ms.toFixed(1) ?? '-');
    console.log(`| ${name} | ${batch} | ${cells.join(' | ')} |`);
  }
}
const dir = join(repoRoot(), 'bench-results');
mkdirSync(dir, { recursive: true });
writeFileSync(
  join(dir, 'losses.json'),
  JSON.stringify({ bench: 'losses', dim: DIM, repeats: REPEATS, threads, openblas: { coretype: process.env.OPENBLAS_CORETYPE ?? null, l2: process.env.OPENBLAS_L2_SIZE ?? null }, torch: torchVersion, rows }, null, 2),
);
