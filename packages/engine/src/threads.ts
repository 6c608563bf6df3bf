import { availableParallelism } from 'node:os';

/** Threads the engine may use: $OPENCLIP_NUM_THREADS, else the number of cores. */
export function numThreads(): number {
  const env = process.env.OPENCLIP_NUM_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`OPENCLIP_NUM_THREADS must be a positive integer, got '${env}'`);
    return n;
  }
  return availableParallelism();
}
