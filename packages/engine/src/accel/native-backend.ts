/**
 * The `native` backend: TensorFlow.js's cpu backend class (tensors are typed arrays in Node's
 * own memory, bounded by RAM — no 4 GB wasm heap) carrying every cpu kernel, with the hot ones
 * replaced by native kernels (OpenBLAS addon or ONNX Runtime, see tiers.ts) and the
 * elementwise, softmax and data-movement kernels of native-elementwise.ts.
 *
 * Memory: a training step frees and allocates the same array sizes every step. Arrays the
 * engine's kernels allocate (makeOutput) are recycled through a pool keyed by length, so a
 * steady run allocates almost nothing (no page faults, no garbage-collector storms). An array
 * is recycled only when no live tensor holds it and it was never handed out (readSync / read,
 * i.e. dataSync() / data()). Live plus pooled bytes stay within POOL_SLACK times the high-water
 * mark of the live bytes (the most the run itself ever held; the pool may always keep
 * POOL_MIN_CAP): arrays of sizes nothing asks for again are dropped, oldest first. Pooled
 * arrays unused for POOL_MAX_AGE_MS are dropped, and
 * `releaseMemory()` drops them all and collects, so RSS falls after a large evaluation.
 */
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { tf } from '../tf.js';
import { collectGarbage } from './gc.js';

export const NATIVE_BACKEND = 'native';

type Pooled = Float32Array | Int32Array;
type DataEntry = { values: unknown; refCount: number };

const POOL_MAX_AGE_MS = 20_000;
const POOL_MIN_CAP = 256 * 2 ** 20;
/**
 * Held plus pooled bytes may reach this multiple of the held high-water mark. With exactly 1,
 * sizes freed late in a step crowd out sizes the next step asks for first, and a bench_small step
 * re-allocates (page-faults) 356 MB; at 1.25 it re-allocates nothing and peak RSS is unchanged.
 */
const POOL_SLACK = 1.25;

export class NativeMemoryBackend extends MathBackendCPU {
  /** Arrays this backend allocated and may recycle. */
  private readonly owned = new WeakSet<Pooled>();
  /** Arrays that left the backend (dataSync/data): never recycled. */
  private readonly escaped = new WeakSet<object>();
  /** How many data entries hold each array (cpu kernels may pass an input's array on). */
  private readonly holders = new WeakMap<object, number>();
  private readonly pool = new Map<string, { arr: Pooled; at: number }[]>();
  private pooledBytes = 0;
  /** Bytes of the distinct arrays data entries hold now, and the most they ever held. */
  private heldBytes = 0;
  private highWater = 0;
  private lastTrim = 0;

  constructor() {
    super();
    // the cpu backend suggests installing tfjs-node on first use; the engine reports backends itself
    (this as unknown as { firstUse: boolean }).firstUse = false;
    const data = this.data as unknown as { set(id: object, v: DataEntry): void; delete(id: object): boolean; get(id: object): DataEntry | undefined };
    const set = data.set.bind(data), del = data.delete.bind(data);
    data.set = (id, v) => {
      if (v.values && typeof v.values === 'object') {
        const h = this.holders.get(v.values) ?? 0;
        this.holders.set(v.values, h + 1);
        if (h === 0) this.hold(v.values);
      }
      set(id, v);
    };
    data.delete = (id) => {
      const e = data.get(id);
      const ok = del(id);
      if (ok && e?.values && typeof e.values === 'object') this.release(e.values);
      return ok;
    };
  }

  /** A zero-filled (or, with `overwrite`, unspecified) array of n elements, recycled when one is free. */
  allocValues(dtype: 'float32' | 'int32', n: number, overwrite = false): Pooled {
    const key = `${dtype}:${n}`;
    const list = this.pool.get(key);
    const hit = list?.pop();
    if (hit) {
      this.pooledBytes -= hit.arr.byteLength;
      if (!overwrite) hit.arr.fill(0);
      return hit.arr;
    }
    if (this.trim(false) > 256 * 2 ** 20) collectGarbage();
    const arr = dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
    this.owned.add(arr);
    return arr;
  }

  private release(values: object): void {
    const h = (this.holders.get(values) ?? 1) - 1;
    if (h > 0) {
      this.holders.set(values, h);
      return;
    }
    this.holders.delete(values);
    this.heldBytes -= (values as ArrayBufferView).byteLength ?? 0;
    const arr = values as Pooled;
    if (!this.owned.has(arr) || this.escaped.has(arr) || arr.length < 1024) return;
    const key = `${arr instanceof Int32Array ? 'int32' : 'float32'}:${arr.length}`;
    let list = this.pool.get(key);
    if (!list) this.pool.set(key, (list = []));
    list.push({ arr, at: Date.now() });
    this.pooledBytes += arr.byteLength;
    this.cap();
  }

  private hold(values: object): void {
    this.heldBytes += (values as ArrayBufferView).byteLength ?? 0;
    if (this.heldBytes > this.highWater) this.highWater = this.heldBytes;
  }

  /**
   * Keeps held plus pooled bytes within POOL_SLACK times the high-water mark of held bytes (the
   * pool gets at least POOL_MIN_CAP): arrays of sizes nothing asks for again must not add to the peak.
   * The oldest go first.
   */
  private cap(): void {
    const limit = Math.max(POOL_MIN_CAP, this.highWater * POOL_SLACK - this.heldBytes);
    if (this.pooledBytes <= limit) return;
    const all: { key: string; at: number; bytes: number }[] = [];
    for (const [key, list] of this.pool) for (const e of list) all.push({ key, at: e.at, bytes: e.arr.byteLength });
    all.sort((a, b) => a.at - b.at);
    for (const e of all) {
      if (this.pooledBytes <= limit) break;
      const list = this.pool.get(e.key)!;
      list.shift();
      if (list.length === 0) this.pool.delete(e.key);
      this.pooledBytes -= e.bytes;
    }
  }

  /**
   * Whether a kernel may write into this tensor's own array: the backend allocated it, one data
   * entry holds it, that entry has one reference, and it never left the backend (a user's
   * array passed to tf.tensor, or one returned by dataSync, is never written).
   */
  mutable(dataId: object): boolean {
    const e = (this.data as unknown as { get(id: object): DataEntry | undefined }).get(dataId);
    if (!e || e.refCount !== 1 || !e.values || typeof e.values !== 'object') return false;
    const v = e.values as Pooled;
    return this.owned.has(v) && !this.escaped.has(v) && (this.holders.get(v) ?? 0) === 1;
  }

  /** Drops pooled arrays unused for POOL_MAX_AGE_MS (all of them with `all`); returns the bytes dropped. */
  trim(all: boolean): number {
    const now = Date.now();
    if (!all && now - this.lastTrim < 1000) return 0;
    this.lastTrim = now;
    let dropped = 0;
    for (const [key, list] of this.pool) {
      const keep = all ? [] : list.filter((e) => now - e.at < POOL_MAX_AGE_MS);
      for (const e of list) if (!keep.includes(e)) dropped += e.arr.byteLength;
      if (keep.length) this.pool.set(key, keep);
      else this.pool.delete(key);
    }
    this.pooledBytes -= dropped;
    if (all) this.highWater = this.heldBytes;
    return dropped;
  }

  /** Bytes held by the pool (free for reuse). */
  get poolBytes(): number {
    return this.pooledBytes;
  }

  /** Bytes of the distinct arrays tensors hold now, and the most they held at once. */
  get liveBytes(): { now: number; peak: number } {
    return { now: this.heldBytes, peak: this.highWater };
  }

  override readSync(dataId: object): ReturnType<MathBackendCPU['readSync']> {
    const v = super.readSync(dataId);
    if (v && typeof v === 'object') this.escaped.add(v as object);
    return v;
  }
}

let registered = false;

/** Registers the backend and copies the cpu backend's kernels onto it (idempotent). */
export function registerNativeBackend(): void {
  if (registered) return;
  registered = true;
  tf.registerBackend(NATIVE_BACKEND, () => new NativeMemoryBackend(), 0);
  for (const k of tf.getKernelsForBackend('cpu')) {
    if (!tf.getKernel(k.kernelName, NATIVE_BACKEND)) tf.registerKernel({ ...k, backendName: NATIVE_BACKEND });
  }
}

/**
 * Gives freed tensor memory back to the system: drops the native backend's pool of recycled
 * arrays and runs a full garbage collection. Call after a large evaluation; training needs no call.
 */
export function releaseMemory(): void {
  const b = tf.engine().registry[NATIVE_BACKEND] as NativeMemoryBackend | undefined;
  b?.trim(true);
  // (outside trim's frame, which may still hold the dropped arrays)
  collectGarbage();
}
