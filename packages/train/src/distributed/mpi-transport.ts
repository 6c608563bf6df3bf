/**
 * Collectives over Open MPI (`--dist-backend mpi`), through the optional addon
 * `@openclip/train-mpi` (packages/train/native, built at `npm ci` when `mpicc` is found). The
 * addon runs each MPI call on a worker thread on this process's own Float32Arrays (all-reduce in
 * place, no copy; large arrays as a ring of MPI_Sendrecv, see native/src/openclip_mpi.cc), so the
 * event loop stays free for the deadline: a collective that has not finished within `opTimeoutMs`
 * aborts the whole job (MPI_Abort) after printing which rank and which collective timed out.
 * Rank and world size come from MPI itself.
 *
 * Calls are queued and issued one at a time in call order, the order MPI requires of collectives.
 */
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { TransportError, type ReduceOp } from './tcp-transport.js';

interface MpiAddon {
  init(): { rank: number; size: number; library: string; threadLevel: number };
  allreduce(data: Float32Array, op: number, done: (err: string | null) => void): void;
  allgatherCounts(count: number, done: (err: string | null, counts?: Int32Array) => void): void;
  allgatherv(data: Float32Array, counts: Int32Array, out: Float32Array, done: (err: string | null) => void): void;
  bcast(data: Float32Array, root: number, done: (err: string | null) => void): void;
  sendrecv(data: Float32Array, to: number, out: Float32Array, from: number, done: (err: string | null) => void): void;
  barrier(done: (err: string | null) => void): void;
  abort(message: string): void;
  finalize(): void;
}

const OPS: Record<ReduceOp, number> = { sum: 0, mean: 0, max: 1, min: 2 };

let addon: MpiAddon | null | undefined;
let loadError = '';

function load(): MpiAddon | null {
  if (addon !== undefined) return addon;
  try {
    addon = createRequire(import.meta.url)('@openclip/train-mpi') as MpiAddon;
  } catch (e) {
    addon = null;
    loadError = (e as Error).message.split('\n')[0];
  }
  return addon;
}

function which(cmd: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/** Whether the Open MPI backend can run here, and why not; `mpirun` is its launcher's path. */
export function mpiAvailability(): { ok: boolean; reason: string; mpirun: string | null } {
  const mpirun = which('mpirun');
  if (!load()) return { ok: false, reason: `the Open MPI addon @openclip/train-mpi is not built (${loadError}); install libopenmpi-dev (mpicc) and re-run npm ci`, mpirun };
  if (!mpirun) return { ok: false, reason: 'mpirun is not on PATH (Debian: openmpi-bin)', mpirun };
  return { ok: true, reason: '', mpirun };
}

export interface MpiOptions {
  /** How long one collective may take (ms) before the job is aborted; 0 = no limit. Default 1800 s. */
  opTimeoutMs?: number;
  /** Rank and world size the launcher's environment announced, checked against MPI's. */
  expectRank?: number;
  expectWorldSize?: number;
}

export class MpiTransport {
  readonly backend = 'mpi' as const;
  private queue: Promise<unknown> = Promise.resolve();
  private seq = 0;
  private inflight = 0;
  private closed = false;

  private constructor(
    private readonly mpi: MpiAddon,
    readonly rank: number,
    readonly worldSize: number,
    readonly library: string,
    private readonly opTimeoutMs: number,
  ) {}

  /** MPI_Init (once per process) and the world it found. */
  static create(o: MpiOptions = {}): MpiTransport {
    const mpi = load();
    if (!mpi) throw new TransportError(`--dist-backend mpi: ${mpiAvailability().reason}`);
    const w = mpi.init();
    if (o.expectWorldSize !== undefined && o.expectWorldSize !== w.size) throw new TransportError(`--dist-backend mpi: the launcher announced a world of ${o.expectWorldSize}, MPI_COMM_WORLD has ${w.size} ranks (started without mpirun/srun?)`);
    if (o.expectRank !== undefined && o.expectRank !== w.rank) throw new TransportError(`--dist-backend mpi: the launcher announced rank ${o.expectRank}, MPI says rank ${w.rank}`);
    return new MpiTransport(mpi, w.rank, w.size, w.library, o.opTimeoutMs ?? 1800_000);
  }

  /** Runs one MPI call after the previous one finished, under the collective deadline. */
  private run<T>(what: string, start: (done: (err: string | null, value?: T) => void) => void): Promise<T> {
    if (this.closed) return Promise.reject(new TransportError('transport closed'));
    const n = ++this.seq;
    const label = `rank ${this.rank}: ${what} #${n}`;
    this.inflight++;
    const p = this.queue.then(
      () =>
        new Promise<T>((resolve, reject) => {
          const timer =
            this.opTimeoutMs > 0
              ? setTimeout(() => {
                  const msg = `${label}: timed out after ${this.opTimeoutMs / 1000} s in Open MPI (a rank stopped, is overloaded or out of step; OPENCLIP_DIST_TIMEOUT_S sets the limit); aborting the job`;
                  process.stderr.write(`${msg}\n`);
                  this.mpi.abort(msg);
                }, this.opTimeoutMs)
              : null;
          start((err, value) => {
            if (timer) clearTimeout(timer);
            if (err) reject(new TransportError(`${label}: ${err}`));
            else resolve(value as T);
          });
        }),
    );
    this.queue = p.catch(() => undefined).then(() => void this.inflight--);
    return p;
  }

  /** Reduces `data` over all ranks in place (the addon's ring from 65,536 values, else MPI_Allreduce with MPI_IN_PLACE). */
  async allReduceInPlace(data: Float32Array, op: ReduceOp = 'sum'): Promise<void> {
    if (this.worldSize === 1) return;
    await this.run<void>(`allReduce (${data.length} values)`, (done) => this.mpi.allreduce(data, OPS[op], done));
    if (op === 'mean') for (let i = 0; i < data.length; i++) data[i] /= this.worldSize;
  }

  /** Reduces each of `parts` in place, one all-reduce each (every rank passes parts of the same lengths). */
  async allReduceParts(parts: readonly Float32Array[], op: ReduceOp = 'sum'): Promise<void> {
    for (const p of parts) if (p.length > 0) await this.allReduceInPlace(p, op);
  }

  async allReduce(data: Float32Array, op: ReduceOp = 'sum'): Promise<Float32Array> {
    const out = Float32Array.from(data);
    await this.allReduceInPlace(out, op);
    return out;
  }

  /** Every rank's array in rank order (lengths may differ): MPI_Allgather of the lengths, then MPI_Allgatherv. */
  async allGather(data: Float32Array): Promise<Float32Array[]> {
    if (this.worldSize === 1) return [Float32Array.from(data)];
    const counts = await this.run<Int32Array>('allGather lengths', (done) => this.mpi.allgatherCounts(data.length, done));
    const total = counts.reduce((a, b) => a + b, 0);
    const out = new Float32Array(total);
    await this.run<void>(`allGather (${total} values)`, (done) => this.mpi.allgatherv(data, counts, out, done));
    const parts: Float32Array[] = [];
    let o = 0;
    for (const c of counts) parts.push(out.subarray(o, (o += c)));
    return parts;
  }

  /** Root's array on every rank: its length first, then the values (MPI_Bcast). */
  async broadcast(data: Float32Array | null, root: number): Promise<Float32Array> {
    if (!Number.isInteger(root) || root < 0 || root >= this.worldSize) throw new TransportError(`broadcast: root ${root} is outside the world of size ${this.worldSize}`);
    if (this.worldSize === 1) return Float32Array.from(data ?? []);
    if (this.rank === root && !data) throw new TransportError('broadcast: the root must pass data');
    const len = this.rank === root ? data!.length : 0;
    // a length travels exactly as a float32 up to 2^24; longer arrays send it split in two
    const lenParts = Float32Array.of(len % 2 ** 24, Math.floor(len / 2 ** 24));
    await this.run<void>('broadcast length', (done) => this.mpi.bcast(lenParts, root, done));
    const n = lenParts[0] + lenParts[1] * 2 ** 24;
    const out = this.rank === root ? Float32Array.from(data!) : new Float32Array(n);
    await this.run<void>(`broadcast (${n} values) from rank ${root}`, (done) => this.mpi.bcast(out, root, done));
    return out;
  }

  async barrier(): Promise<void> {
    if (this.worldSize === 1) return;
    await this.run<void>('barrier', (done) => this.mpi.barrier(done));
  }

  /** Sends `data` to `to` and receives from `from` (MPI_Sendrecv: the length, then the values). */
  async exchange(from: number, to: number, data: Float32Array): Promise<Float32Array> {
    for (const [r, name] of [[from, 'from'], [to, 'to']] as const) if (!Number.isInteger(r) || r < 0 || r >= this.worldSize || r === this.rank) throw new TransportError(`exchange: '${name}' rank ${r} must be another rank of the world of size ${this.worldSize}`);
    const len = new Float32Array(2);
    await this.run<void>(`exchange lengths with ranks ${to}/${from}`, (done) => this.mpi.sendrecv(Float32Array.of(data.length % 2 ** 24, Math.floor(data.length / 2 ** 24)), to, len, from, done));
    const out = new Float32Array(len[0] + len[1] * 2 ** 24);
    await this.run<void>(`exchange (${data.length} values to rank ${to}, ${out.length} from rank ${from})`, (done) => this.mpi.sendrecv(data, to, out, from, done));
    return out;
  }

  /** MPI_Finalize now, or after the queued calls (once per process; MPI cannot be re-initialised). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.inflight === 0) this.mpi.finalize();
    else void this.queue.then(() => this.mpi.finalize());
  }
}
