/**
 * A lane of batches produced by a worker thread (worker.ts): epochs are started by message, batches
 * come back under credit-based flow control (at most `prefetch` ahead), skips are forwarded to the
 * loader's counter, and a crashed or exited worker fails the next wait instead of hanging it.
 */
import { Worker } from 'node:worker_threads';
import type { WorkerBatch } from './batcher.js';
import type { BatchSource } from './batch-source.js';
import type { SkipCounter } from './skip-stats.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker.js';

export class ThreadSource implements BatchSource {
  private readonly worker: Worker;
  private readonly ready: Promise<void>;
  private tag = 0;
  private queue: WorkerBatch[] = [];
  private ended = false;
  private failure: Error | null = null;
  private waiter: (() => void) | null = null;
  private fatal: Error | null = null;

  constructor(
    init: WorkerInit,
    private readonly prefetch: number,
    private readonly skips: SkipCounter,
  ) {
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: init });
    this.worker.unref();
    this.ready = new Promise((resolve, reject) => {
      this.worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') return resolve();
        if (m.type === 'error' && m.tag === -1) {
          this.fatal = new Error(`data worker ${init.context.worker}: ${m.message}`);
          return reject(this.fatal);
        }
        if (!('tag' in m) || m.tag !== this.tag) return;
        if (m.type === 'batch') this.queue.push(m.batch);
        else if (m.type === 'skip') this.skips.add(m.event);
        else if (m.type === 'end') this.ended = true;
        else if (m.type === 'error') this.failure = new Error(`data worker ${init.context.worker}: ${m.message}`);
        this.wake();
      });
      this.worker.on('error', (e) => {
        this.fatal = new Error(`data worker ${init.context.worker} crashed: ${e.message}`);
        reject(this.fatal);
        this.wake();
      });
      this.worker.on('exit', (code) => {
        if (!this.fatal) this.fatal = new Error(`data worker ${init.context.worker} exited (code ${code})`);
        reject(this.fatal);
        this.wake();
      });
    });
    this.ready.catch(() => {});
  }

  whenReady(): Promise<void> {
    return this.ready;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  start(epoch: number, skipItems: number, quota: number | null): void {
    this.tag++;
    this.queue = [];
    this.ended = false;
    this.failure = null;
    this.worker.ref();
    const msg: ToWorker = { type: 'epoch', tag: this.tag, epoch, skipItems, quota, credits: this.prefetch };
    this.worker.postMessage(msg);
  }

  async next(): Promise<WorkerBatch | null> {
    await this.ready;
    for (;;) {
      if (this.queue.length) {
        this.worker.postMessage({ type: 'credit', tag: this.tag } satisfies ToWorker);
        return this.queue.shift()!;
      }
      if (this.failure) throw this.failure;
      if (this.fatal) throw this.fatal;
      if (this.ended) {
        this.worker.unref();
        return null;
      }
      await new Promise<void>((r) => (this.waiter = r));
    }
  }

  recycle(images: Float32Array): void {
    if (images.byteOffset !== 0 || images.byteLength !== images.buffer.byteLength) return;
    if (images.buffer instanceof SharedArrayBuffer) this.worker.postMessage({ type: 'recycle', buffer: images } satisfies ToWorker);
    else if (images.buffer instanceof ArrayBuffer) this.worker.postMessage({ type: 'recycle', buffer: images } satisfies ToWorker, [images.buffer]);
  }

  abort(): void {
    this.worker.postMessage({ type: 'abort', tag: this.tag } satisfies ToWorker);
    this.queue = [];
    this.worker.unref();
  }

  async close(): Promise<void> {
    this.fatal ??= new Error('data loader closed');
    await this.worker.terminate();
  }
}
