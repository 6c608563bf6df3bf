/**
 * The run folder's logging (OpenCLIP's `logs/<name>/out.log` + `params.txt`): lines go to the
 * console and to out.log; params.txt records every parameter, one `name: value` per line.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TRAIN_PARAMS } from './config/params.js';
import type { TrainConfig } from './config/train-config.js';

export type LogSink = (line: string) => void;

export class RunLogger {
  private readonly file: string | null;

  constructor(
    readonly dir: string | null,
    private readonly sink: LogSink,
    private readonly debugEnabled = false,
  ) {
    if (dir) {
      mkdirSync(dir, { recursive: true });
      this.file = join(dir, 'out.log');
    } else this.file = null;
  }

  private write(level: string, msg: string): void {
    const stamp = new Date().toISOString().replace('T', ',').replace('Z', '');
    if (this.file) appendFileSync(this.file, `${stamp} | ${level} | ${msg}\n`);
  }

  info(msg: string): void {
    this.write('INFO', msg);
    this.sink(msg);
  }

  warn(msg: string): void {
    this.write('WARNING', msg);
    this.sink(`warning: ${msg}`);
  }

  debug(msg: string): void {
    if (!this.debugEnabled) return;
    this.write('DEBUG', msg);
    this.sink(msg);
  }

  /** Writes only to out.log (for lines the progress bar shows on a terminal). */
  fileOnly(msg: string): void {
    this.write('INFO', msg);
  }
}

/** params.txt as OpenCLIP writes it: every argument sorted by its Python name. */
export function writeParams(dir: string, cfg: TrainConfig): void {
  const lines = TRAIN_PARAMS.map((p) => [p.flag.replace(/-/g, '_'), (cfg as unknown as Record<string, unknown>)[p.key]] as const)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}: ${v === null ? 'None' : typeof v === 'boolean' ? (v ? 'True' : 'False') : typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  writeFileSync(join(dir, 'params.txt'), lines.join('\n') + '\n');
}
