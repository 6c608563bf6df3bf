/**
 * Collectives over TCP for data-parallel training (what torch.distributed's gloo backend gives
 * OpenCLIP): the rendezvous (rendezvous.ts) leaves one authenticated socket per pair of ranks;
 * on top of them ring all-reduce (reduce-scatter + all-gather, chunked), all-gather, broadcast,
 * barrier and point-to-point exchange on Float32Arrays.
 *
 * Every rank must call the collectives in the same order: each call takes the next sequence
 * number, which tags its messages. Every receive waits at most `opTimeoutMs` (default 1800 s,
 * torch.distributed's default); a rank that disconnects, stalls past it or sends a malformed
 * frame fails every pending and later operation with an error naming it, so no rank hangs.
 */
import { Conn, TransportError } from './conn.js';
import { CONTROL } from './frames.js';
import { rendezvous } from './rendezvous.js';
import { unauthenticatedWarning } from './handshake.js';

export { TransportError };

export type ReduceOp = 'sum' | 'mean' | 'max' | 'min';

/** torch.distributed's default timeout for the rendezvous and for each collective. */
export const DEFAULT_DIST_TIMEOUT_S = 1800;

export interface TransportOptions {
  rank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  /** How long the rendezvous waits for every rank (ms); default 1800 s. */
  timeoutMs?: number;
  /** How long one collective may wait for a peer (ms); default 1800 s; 0 = no limit. */
  opTimeoutMs?: number;
  /** The job's shared secret (OPENCLIP_DIST_SECRET); '' = no authentication (warned once). */
  secret?: string;
  /** Address to listen on (ranks > 0); default: the local interface that reaches masterAddr. */
  bindAddr?: string;
  /** Where the unauthenticated warning goes (default: stderr). */
  warn?: (line: string) => void;
  /** Called with this rank's listening port and address. */
  onListen?: (port: number, host: string) => void;
}

function f32(b: Buffer, from: number, what: string): Float32Array {
  if (b.byteLength % 4 !== 0) throw new TransportError(`${what}: rank ${from} sent ${b.byteLength} bytes, not whole float32 values`);
  if (b.byteOffset % 4 === 0) return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  const out = new Float32Array(b.byteLength / 4); // unaligned: copy
  new Uint8Array(out.buffer).set(b);
  return out;
}

function sized(a: Float32Array, want: number, from: number, what: string): Float32Array {
  if (a.length !== want) throw new TransportError(`${what}: rank ${from} sent ${a.length} values where ${want} were expected (ranks out of step or a corrupt peer)`);
  return a;
}

/** Frames of at most this many floats, so sending, receiving and reducing overlap. */
const CHUNK = 1 << 20;
const MAX_CHUNKS = 1 << 16;

function bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export class TcpTransport {
  private readonly links = new Map<number, Conn>();
  private seq = 0;
  private failure: Error | null = null;
  private closed = false;

  private constructor(
    readonly rank: number,
    readonly worldSize: number,
  ) {}

  /** Joins the world: rendezvous at rank 0, then an authenticated socket to every other rank. */
  static async connect(o: TransportOptions): Promise<TcpTransport> {
    const { rank, worldSize } = o;
    if (!Number.isInteger(worldSize) || worldSize < 1) throw new TransportError(`world size must be a positive integer, got ${worldSize}`);
    if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) throw new TransportError(`rank ${rank} is outside the world of size ${worldSize}`);
    if (worldSize === 1) return new TcpTransport(0, 1);
    const timeoutMs = o.timeoutMs ?? DEFAULT_DIST_TIMEOUT_S * 1000;
    const opTimeoutMs = o.opTimeoutMs ?? DEFAULT_DIST_TIMEOUT_S * 1000;
    const secret = o.secret ?? '';
    if (!secret) (o.warn ?? ((l: string) => process.stderr.write(`${l}\n`)))(unauthenticatedWarning(o.masterAddr, o.masterPort));
    const conns = await rendezvous({ rank, worldSize, masterAddr: o.masterAddr, masterPort: o.masterPort, secret, deadline: Date.now() + timeoutMs, timeoutMs, bindAddr: o.bindAddr, onListen: o.onListen });
    const t = new TcpTransport(rank, worldSize);
    for (const [peer, c] of conns) {
      t.links.set(peer, c);
      c.open(rank, peer, opTimeoutMs, (e) => t.onPeerFailure(e));
    }
    return t;
  }

  private onPeerFailure(e: Error): void {
    if (this.closed || this.failure) return;
    this.failure = e;
    for (const l of this.links.values()) l.fail(e); // each link prefixes this rank
  }

  private link(peer: number): Conn {
    if (this.failure) throw new TransportError(this.failure.message.startsWith(`rank ${this.rank}: `) ? this.failure.message : `rank ${this.rank}: ${this.failure.message}`);
    const l = this.links.get(peer);
    if (!l) throw new TransportError(`rank ${this.rank}: no connection to rank ${peer}`);
    return l;
  }

  private next(): number {
    if (this.closed) throw new TransportError('transport closed');
    this.seq = (this.seq + 1) % CONTROL;
    return this.seq;
  }

  /** Ring all-reduce: returns a new array with the elementwise reduction over all ranks. */
  async allReduce(data: Float32Array, op: ReduceOp = 'sum'): Promise<Float32Array> {
    const n = this.worldSize;
    const out = Float32Array.from(data);
    if (n === 1) return out;
    const seq = this.next();
    const right = this.link((this.rank + 1) % n);
    const leftRank = (this.rank - 1 + n) % n;
    const left = this.link(leftRank);
    const what = `rank ${this.rank}: allReduce #${seq} (${out.length} values)`;
    const bounds = Array.from({ length: n + 1 }, (_, i) => Math.floor((i * out.length) / n));
    const seg = (i: number) => out.subarray(bounds[((i % n) + n) % n], bounds[(((i % n) + n) % n) + 1]);
    const combine = op === 'max' ? Math.max : op === 'min' ? Math.min : null;
    const chunks = (a: Float32Array) => Math.max(1, Math.ceil(a.length / CHUNK));
    if (chunks(seg(0)) * 2 * n > MAX_CHUNKS) throw new TransportError(`allReduce: ${out.length} floats is too large for one call`);
    const sendSeg = (step: number, a: Float32Array) => {
      for (let k = 0, c = chunks(a); k < c; k++) right.send(seq, step * MAX_CHUNKS + k, bytes(a.subarray(k * CHUNK, (k + 1) * CHUNK)));
    };
    // reduce-scatter: after n-1 steps, rank r holds the full reduction of segment r+1
    for (let s = 0; s < n - 1; s++) {
      sendSeg(s, seg(this.rank - s));
      const mine = seg(this.rank - s - 1);
      for (let k = 0, c = chunks(mine); k < c; k++) {
        const part = mine.subarray(k * CHUNK, (k + 1) * CHUNK);
        const got = sized(f32(await left.recv(seq, s * MAX_CHUNKS + k, what), leftRank, what), part.length, leftRank, what);
        if (combine) for (let i = 0; i < part.length; i++) part[i] = combine(part[i], got[i]);
        else for (let i = 0; i < part.length; i++) part[i] += got[i];
      }
    }
    // all-gather of the reduced segments
    for (let s = 0; s < n - 1; s++) {
      sendSeg(n + s, seg(this.rank + 1 - s));
      const mine = seg(this.rank - s);
      for (let k = 0, c = chunks(mine); k < c; k++) {
        const want = mine.subarray(k * CHUNK, (k + 1) * CHUNK).length;
        mine.set(sized(f32(await left.recv(seq, (n + s) * MAX_CHUNKS + k, what), leftRank, what), want, leftRank, what), k * CHUNK);
      }
    }
    if (op === 'mean') for (let i = 0; i < out.length; i++) out[i] /= n;
    return out;
  }

  /** Every rank's array, in rank order (arrays may differ in length). */
  async allGather(data: Float32Array): Promise<Float32Array[]> {
    const n = this.worldSize;
    if (n === 1) return [Float32Array.from(data)];
    const seq = this.next();
    for (let p = 0; p < n; p++) if (p !== this.rank) this.link(p).send(seq, 0, bytes(data));
    const what = `rank ${this.rank}: allGather #${seq}`;
    const parts = await Promise.all(Array.from({ length: n }, (_, p) => (p === this.rank ? Promise.resolve(null) : this.link(p).recv(seq, 0, what))));
    return parts.map((b, p) => (p === this.rank ? Float32Array.from(data) : f32(b!, p, what)));
  }

  /** Root's array on every rank. */
  async broadcast(data: Float32Array | null, root: number): Promise<Float32Array> {
    if (root < 0 || root >= this.worldSize) throw new TransportError(`broadcast: root ${root} is outside the world of size ${this.worldSize}`);
    if (this.worldSize === 1) return Float32Array.from(data ?? []);
    const seq = this.next();
    if (this.rank === root) {
      if (!data) throw new TransportError('broadcast: the root must pass data');
      for (let p = 0; p < this.worldSize; p++) if (p !== root) this.link(p).send(seq, 0, bytes(data));
      return Float32Array.from(data);
    }
    const what = `rank ${this.rank}: broadcast #${seq} from rank ${root}`;
    return f32(await this.link(root).recv(seq, 0, what), root, what);
  }

  async barrier(): Promise<void> {
    await this.allReduce(new Float32Array(1));
  }

  /** Sends `data` to `to` and receives from `from` (ranks other than this one). */
  async exchange(from: number, to: number, data: Float32Array): Promise<Float32Array> {
    const seq = this.next();
    this.link(to).send(seq, 0, bytes(data));
    const what = `rank ${this.rank}: exchange #${seq} with rank ${from}`;
    return f32(await this.link(from).recv(seq, 0, what), from, what);
  }

  close(): void {
    this.closed = true;
    for (const l of this.links.values()) l.close();
    this.links.clear();
  }
}
