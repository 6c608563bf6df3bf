/**
 * `npm run bench -w @openclip/cli` (second part): does the data loader keep up with training? Runs
 * `openclip train` on the README demo's settings (ViT-Tiny-8-64-demo, batch 64, 4096 samples, fp32,
 * default `--workers`) on three inputs — the synthetic source (the demo itself), a CSV dataset and
 * webdataset shards, both written by `openclip make-dataset` (64 px JPEGs) — and reads OpenCLIP's
 * `Data (t)` (time waiting for the next batch) and `Batch (t)` (the training step) from the log line
 * that closes each epoch. The aim is Data (t) <= 5% of Batch (t).
 *
 * `DATA_TIME_COMPARE_BIN=/other/checkout/apps/cli/bin/run.js` runs that checkout too, alternating run
 * by run with this one, so a before/after comparison sees the same machine load.
 * `DATA_TIME_EPOCHS` (1), `DATA_TIME_ROUNDS` (1), `DATA_TIME_INPUTS` (synthetic,csv,webdataset).
 * Writes bench-results/data-time.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '@openclip/test-config';

const bins: [string, string][] = [['this', fileURLToPath(new URL('../../bin/run.js', import.meta.url))]];
if (process.env.DATA_TIME_COMPARE_BIN) bins.unshift(['compare', process.env.DATA_TIME_COMPARE_BIN]);
const epochs = Number(process.env.DATA_TIME_EPOCHS ?? 1);
const rounds = Number(process.env.DATA_TIME_ROUNDS ?? 1);
const inputs = (process.env.DATA_TIME_INPUTS ?? 'synthetic,csv,webdataset').split(',');
const dir = mkdtempSync(join(tmpdir(), 'openclip-data-time-'));
const samples = 4096;

function run(bin: string, args: string[]): string {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`openclip ${args.join(' ')} failed:\n${r.stderr}\n${r.stdout.slice(-2000)}`);
  return r.stdout + r.stderr;
}

function load(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

const demo = ['--model', 'ViT-Tiny-8-64-demo', '--batch-size', '64', '--epochs', String(epochs), '--lr', '1e-3', '--warmup', '50', '--precision', 'fp32', '--log-every-n-steps', '16'];
const dataArgs: Record<string, string[]> = {
  synthetic: ['--dataset-type', 'synthetic', '--train-num-samples', String(samples), '--zeroshot-frequency', '1'],
  csv: ['--train-data', join(dir, 'csv', 'train.csv'), '--dataset-type', 'csv'],
  webdataset: ['--train-data', join(dir, 'wds', '{00000..00007}.tar'), '--dataset-type', 'webdataset'],
};
const own = bins[bins.length - 1][1];
if (inputs.includes('csv')) run(own, ['make-dataset', '--type', 'csv', '--num-samples', String(samples), '--image-size', '64', '--out', join(dir, 'csv')]);
if (inputs.includes('webdataset')) run(own, ['make-dataset', '--type', 'webdataset', '--num-samples', String(samples), '--shard-size', String(samples / 8), '--image-size', '64', '--out', join(dir, 'wds')]);

interface Row {
  input: string;
  build: string;
  round: number;
  epoch: number;
  data_s: number;
  batch_s: number;
  data_pct_of_batch: number;
  load_before: string;
  load_after: string;
}
const rows: Row[] = [];
let n = 0;
for (let round = 0; round < rounds; round++) {
  for (const input of inputs) {
    if (!dataArgs[input]) throw new Error(`DATA_TIME_INPUTS: unknown input '${input}' (synthetic, csv, webdataset)`);
    for (const [build, bin] of bins) {
      const before = load();
      const log = run(bin, ['train', ...dataArgs[input], ...demo, '--logs', join(dir, 'logs'), '--name', `run${n++}`]);
      const after = load();
      for (let e = 0; e < epochs; e++) {
        const lines = [...log.matchAll(new RegExp(`Train Epoch: ${e} .*?Data \\(t\\): ([0-9.]+) Batch \\(t\\): ([0-9.]+)`, 'g'))];
        if (!lines.length) throw new Error(`no 'Train Epoch: ${e}' line in the ${build} ${input} log:\n${log.slice(-2000)}`);
        const last = lines[lines.length - 1];
        const data = Number(last[1]);
        const batch = Number(last[2]);
        rows.push({ input, build, round, epoch: e, data_s: data, batch_s: batch, data_pct_of_batch: (100 * data) / batch, load_before: before, load_after: after });
        console.log(`${input.padEnd(11)} ${build.padEnd(8)} round ${round} epoch ${e}: Data (t) ${data.toFixed(3)} s, Batch (t) ${batch.toFixed(3)} s, ${((100 * data) / batch).toFixed(1)}% (load ${before} -> ${after})`);
      }
    }
  }
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log('\ninput       build     median Data (t)  median Batch (t)  Data/Batch (median, max)');
for (const input of inputs) {
  for (const [build] of bins) {
    const r = rows.filter((x) => x.input === input && x.build === build);
    const pct = r.map((x) => x.data_pct_of_batch);
    console.log(
      `${input.padEnd(11)} ${build.padEnd(9)}${median(r.map((x) => x.data_s)).toFixed(3).padStart(16)}${median(r.map((x) => x.batch_s)).toFixed(3).padStart(18)}` +
        `   ${median(pct).toFixed(1)}%, ${Math.max(...pct).toFixed(1)}%`,
    );
  }
}
const out = join(repoRoot(), 'bench-results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'data-time.json'), JSON.stringify(rows, null, 2) + '\n');
