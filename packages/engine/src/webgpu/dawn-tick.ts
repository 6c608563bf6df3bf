/**
 * Synchronous waits on Dawn (the `webgpu` npm package) in Node.
 *
 * TF.js code reads tensors synchronously (`dataSync`), but WebGPU only maps a buffer for reading
 * asynchronously, and dawn.node completes a map only when it processes its events: each device
 * keeps a "tick" going by handing a native callback to the global `setImmediate`; the callback
 * processes Dawn's events and queues the next one. This module wraps `setImmediate` so it holds
 * that callback instead of scheduling it blindly; `waitUntil` can then run it synchronously —
 * processing Dawn's events in place — until a condition holds (e.g. a buffer reads as mapped).
 *
 * The event loop still runs the tick as before (one immediate per queued callback, each one runs
 * the newest callback at most once), so asynchronous WebGPU use is unchanged and no extra tick
 * chains appear however often `waitUntil` runs it.
 */

type Callback = (...args: unknown[]) => void;

let pending: Callback | null = null;
let installed = false;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

function isNative(fn: unknown): fn is Callback {
  return typeof fn === 'function' && Function.prototype.toString.call(fn).includes('[native code]');
}

/** Wraps the global `setImmediate`; must run before the first Dawn device is created. Idempotent. */
export function installDawnTick(): void {
  if (installed) return;
  installed = true;
  const original = globalThis.setImmediate;
  const wrapped = function (this: unknown, fn: unknown, ...args: unknown[]) {
    // Dawn's tick: a native function, no arguments. Anything else is scheduled unchanged.
    if (args.length === 0 && isNative(fn) && !(fn as { name?: string }).name) {
      pending = fn;
      return original(runPending);
    }
    return (original as (...a: unknown[]) => NodeJS.Immediate)(fn, ...args);
  };
  Object.assign(wrapped, original);
  globalThis.setImmediate = wrapped as typeof setImmediate;
}

function runPending(): boolean {
  const fn = pending;
  if (!fn) return false;
  pending = null;
  fn();
  return true;
}

/**
 * Processes Dawn's events synchronously until `done()` is true; throws after `timeoutMs`
 * naming `what`. Sleeps briefly between rounds (the GPU — or a CPU Vulkan driver's threads —
 * does the work meanwhile), starting with a few busy rounds for short waits.
 */
export function waitUntil(done: () => boolean, what: string, timeoutMs = defaultTimeoutMs()): void {
  if (!installed) throw new Error('webgpu: synchronous wait before installDawnTick()');
  const start = performance.now();
  let rounds = 0;
  while (!done()) {
    const ran = runPending();
    if (done()) return;
    if (performance.now() - start > timeoutMs) {
      throw new Error(`webgpu: ${what} did not complete within ${timeoutMs} ms (OPENCLIP_WEBGPU_TIMEOUT_MS raises the limit)`);
    }
    rounds++;
    if (!ran || rounds > 32) Atomics.wait(sleeper, 0, 0, Math.min(1, 0.02 * rounds));
  }
}

function defaultTimeoutMs(): number {
  const v = process.env.OPENCLIP_WEBGPU_TIMEOUT_MS;
  if (v === undefined || v === '') return 600_000;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`OPENCLIP_WEBGPU_TIMEOUT_MS: expected a positive number of milliseconds, got '${v}'`);
  return n;
}
