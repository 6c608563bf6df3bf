/**
 * Memory over epochs: trains the small demo-sized CLIP on synthetic data for N short epochs
 * (`node --expose-gc dist-test/bench/epoch-rss.js [epochs] [workers] [zeroshot-frequency] [save-frequency] [train-data.csv]`) and prints RSS, JS heap and tensor count at
 * each epoch start after a GC (run with --expose-gc), then the least-squares RSS slope per epoch
 * over the second half (after warm-up). A flat run has a slope within the noise (±1 MB/epoch).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '@openclip/engine';
import { parseTrainConfig } from '../src/config/train-config.js';
import { runTraining } from '../src/main.js';

const epochs = Number(process.argv[2] ?? 40);
const workers = process.argv[3] ?? '1';
const zeroshot = process.argv[4] ?? '1000';
const save = process.argv[5] ?? '1000';
const csv = process.argv[6]; // a CSV dataset (e.g. from `openclip make-dataset --type csv`) instead of synthetic data
const dir = mkdtempSync(join(tmpdir(), 'epoch-rss-'));
const model = join(dir, 'tiny.json');
writeFileSync(model, JSON.stringify({ embed_dim: 32, vision_cfg: { image_size: 32, layers: 1, width: 64, head_width: 32, patch_size: 8 }, text_cfg: { context_length: 16, vocab_size: 49408, width: 64, heads: 2, layers: 1 } }));
const data = csv ? { 'train-data': csv, 'dataset-type': 'csv', 'csv-separator': readFileSync(csv, 'utf8').includes('\t') ? '\t' : ',' } : { 'dataset-type': 'synthetic', 'train-num-samples': '64' };
const cfg = parseTrainConfig({ ...data, model, precision: 'fp32', 'batch-size': '16', lr: '1e-3', warmup: '2', workers, epochs: String(epochs), logs: join(dir, 'logs'), name: 'rss', 'log-every-n-steps': '100', 'zeroshot-frequency': zeroshot, 'save-frequency': save });
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) console.error('run with node --expose-gc for stable numbers');
const rows: { epoch: number; rss: number }[] = [];
await runTraining(cfg, {
  progress: false,
  log: (l) => {
    if (!l.startsWith('Start epoch')) return;
    gc?.();
    const m = process.memoryUsage();
    const epoch = Number(l.split(' ')[2]);
    rows.push({ epoch, rss: m.rss / 1e6 });
    console.log(`epoch ${epoch}\tRSS ${(m.rss / 1e6).toFixed(1)} MB\theap ${(m.heapUsed / 1e6).toFixed(1)} MB\ttensors ${tf.memory().numTensors}`);
  },
});
const tail = rows.slice(Math.floor(rows.length / 2));
const mx = tail.reduce((a, r) => a + r.epoch, 0) / tail.length;
const my = tail.reduce((a, r) => a + r.rss, 0) / tail.length;
const slope = tail.reduce((a, r) => a + (r.epoch - mx) * (r.rss - my), 0) / tail.reduce((a, r) => a + (r.epoch - mx) ** 2, 0);
console.log(`RSS slope over epochs ${tail[0].epoch}..${tail[tail.length - 1].epoch}: ${slope.toFixed(2)} MB/epoch (workers ${workers}, zero-shot every ${zeroshot} epochs, checkpoints every ${save}, ${csv ? `CSV ${csv}` : 'synthetic data'})`);
