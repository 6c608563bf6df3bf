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

/** What main.py adds to its arguments before writing params.txt. */
export interface DerivedParams {
  logDir: string;
  rank: number;
  worldSize: number;
  localRank: number;
  /** The device really used (`cpu`, `cuda:0`). */
  device: string;
}

/**
 * The keys OpenCLIP's main.py sets on `args` before writing params.txt (init_distributed_device,
 * the log/checkpoint/tensorboard paths, the logger flags, distill), with its values.
 */
export function derivedParams(cfg: TrainConfig, d: DerivedParams): Record<string, unknown> {
  const reportTo = cfg.reportTo.split(',').map((s) => s.trim());
  const tensorboard = reportTo.includes('tensorboard') || reportTo.includes('all');
  return {
    distributed: d.worldSize > 1,
    world_size: d.worldSize,
    rank: d.rank,
    local_rank: d.localRank,
    device: d.device,
    log_path: join(d.logDir, 'out.log'),
    log_level: cfg.debug ? 10 : 20,
    wandb: reportTo.includes('wandb') || reportTo.includes('all'),
    tensorboard,
    checkpoint_path: join(d.logDir, 'checkpoints'),
    tensorboard_path: tensorboard ? join(d.logDir, 'tensorboard') : '',
    distill: cfg.distillModel !== null && cfg.distillPretrained !== null,
  };
}

function pythonValue(v: unknown): string {
  return v === null || v === undefined ? 'None' : typeof v === 'boolean' ? (v ? 'True' : 'False') : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** params.txt as OpenCLIP writes it: every argument (and the derived keys) sorted by its Python name. */
export function writeParams(dir: string, cfg: TrainConfig, derived: Record<string, unknown> = {}): void {
  const entries = new Map<string, unknown>(TRAIN_PARAMS.map((p) => [p.flag.replace(/-/g, '_'), cfg[p.key]]));
  for (const [k, v] of Object.entries(derived)) entries.set(k, v);
  const lines = [...entries].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}: ${pythonValue(v)}`);
  writeFileSync(join(dir, 'params.txt'), lines.join('\n') + '\n');
}
