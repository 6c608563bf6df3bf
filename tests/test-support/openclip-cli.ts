/** Helpers for end-to-end tests: run the `openclip` binary, make small datasets and model configs. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The CLI's launcher in this repository (apps/cli/bin/run.js). */
export const OPENCLIP_BIN = fileURLToPath(new URL('../../../apps/cli/bin/run.js', import.meta.url));

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `openclip ...args` to completion. */
export function openclip(args: string[], env: Record<string, string> = {}, timeoutMs = 300_000): RunResult {
  const r = spawnSync(process.execPath, [OPENCLIP_BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.replace(/\s*\n\s*›\s*/g, ' ') };
}

/** Starts `openclip ...args` without waiting. */
export function openclipAsync(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [OPENCLIP_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `openclip-${prefix}-`));
}

/** A very small CLIP config (fast on two cores) written to `dir/tiny.json`. */
export function tinyModelConfig(dir: string): string {
  const path = join(dir, 'tiny-clip.json');
  writeFileSync(
    path,
    JSON.stringify({
      embed_dim: 32,
      vision_cfg: { image_size: 32, layers: 1, width: 64, head_width: 32, patch_size: 8 },
      text_cfg: { context_length: 16, vocab_size: 49408, width: 64, heads: 2, layers: 1 },
    }),
  );
  return path;
}

/** Common flags for a short CPU training run. */
export function shortRun(model: string, logs: string, name: string): string[] {
  return ['--model', model, '--precision', 'fp32', '--batch-size', '16', '--lr', '2e-3', '--warmup', '2', '--workers', '1', '--logs', logs, '--name', name, '--log-every-n-steps', '1', '--seed', '3'];
}

/** Loss values from OpenCLIP-style log lines ("... Loss: 3.12345 (3.2)"). */
export function lossesFromLog(text: string): number[] {
  return [...text.matchAll(/ Loss: ([0-9.]+) \(/g)].map((m) => Number(m[1]));
}
