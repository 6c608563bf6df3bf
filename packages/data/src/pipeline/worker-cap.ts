/**
 * `--workers` bound. Each worker thread holds its own decoder, transform and batch buffers, so
 * a count far above the machine's cores only costs memory (1000 threads exhausted 9 GB before the
 * first batch). As torch's DataLoader warns above its suggested maximum, the count is capped at
 * the larger of the CPU count and 4 (the default never warns) and the cap is said once.
 */
import { availableParallelism } from 'node:os';

export function maxWorkers(cpus = availableParallelism()): number {
  return Math.max(4, cpus);
}

export function capWorkers(requested: number, warn: (msg: string) => void, cpus = availableParallelism()): number {
  const cap = maxWorkers(cpus);
  if (requested <= cap) return requested;
  warn(`--workers ${requested} is more than this machine can use (${cpus} CPUs); using ${cap} worker threads.`);
  return cap;
}
