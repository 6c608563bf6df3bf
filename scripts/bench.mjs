#!/usr/bin/env node
// npm run bench                         every package's bench (turbo run bench --concurrency=1)
// npm run bench -- --backend webgpu [options]
//                                       training-step throughput on the webgpu backend beside a CPU
//                                       backend and PyTorch OpenCLIP (packages/train/bench/webgpu-steps.ts;
//                                       its options: --models --batch --steps --warmup --compare --memory-steps --no-torch)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
// The benches' datasets and checkpoints go under one temporary folder, removed at the end.
const benchTmp = mkdtempSync(join(tmpdir(), 'openclip-bench-'));
const run = (cmd, argv) => {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit', env: { ...process.env, TMPDIR: benchTmp } });
  if (r.status !== 0) {
    rmSync(benchTmp, { recursive: true, force: true });
    process.exit(r.status ?? 1);
  }
};
process.on('exit', () => rmSync(benchTmp, { recursive: true, force: true }));

if (args.length === 0) run('npx', ['turbo', 'run', 'bench', '--concurrency=1']);
else {
  const i = args.indexOf('--backend');
  const backend = i >= 0 ? args[i + 1] : args.find((a) => a.startsWith('--backend='))?.slice('--backend='.length);
  if (backend !== 'webgpu') {
    console.error(`npm run bench: options are taken only with --backend webgpu (got: ${args.join(' ')}); without options it runs every package's bench`);
    process.exit(2);
  }
  run('npx', ['turbo', 'run', 'build', '--filter=@openclip/train...', '--output-logs=errors-only']);
  run('npm', ['run', 'bench:webgpu', '-w', '@openclip/train', '--', ...args]);
}
