/** What a caller of runTraining passes besides the TrainConfig, and what it gets back. */
import type { ArrayTransport } from '@openclip/losses';
import type { Metrics } from '../eval/evaluate.js';
import type { LogSink } from '../run-logger.js';

export interface TrainRunOptions {
  /** 'auto' or a backend name (the CLI's --backend). */
  backend?: string;
  /** Where log lines go (default: stdout). */
  log?: LogSink;
  /** Show a progress bar (default: when stderr is a TTY). */
  progress?: boolean;
  rank?: number;
  worldSize?: number;
  /** The collective transport joining the ranks (required when worldSize > 1). */
  transport?: ArrayTransport | null;
  /** Log from every rank (--log-local), not only rank 0. */
  logLocal?: boolean;
  /** Stop after this many optimizer steps in total (tests, smoke runs); the run is then not finished. */
  maxSteps?: number;
}

export interface EpochRecord {
  epoch: number;
  steps: number;
  meanLoss: number;
  samplesPerSecond: number;
  metrics: Metrics;
}

export interface TrainRunResult {
  name: string;
  logDir: string | null;
  checkpoints: string[];
  epochs: EpochRecord[];
  /** The last evaluation's metrics. */
  metrics: Metrics;
  steps: number;
  /** Per-logged-step loss, for plots and tests. */
  losses: [number, number][];
}
