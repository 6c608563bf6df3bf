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
import { CONTROL, controlFrame } from './frames.js';
import { rendezvous } from './rendezvous.js';
import { unauthenticatedWarning } from './handshake.js';
import { FloatSink } from './float-sink.js';
import { readsIntoReusedBuffer } from './socket-reads.js';
import { ringChunks } from './ring-chunks.js';

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

/** Frames of at most this many floats, so sending, receiving, reducing and forwarding overlap. */
const CHUNK = 1 << 18;
const MAX_CHUNKS = 1 << 16;
/** Heartbeat period on every link (a quarter of the collective timeout when that is shorter). */
const HEARTBEAT_MS = 5_000;

function bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function divide(a: Float32Array, n: number): void {
  for (let i = 0; i < a.length; i++) a[i] /= n;
}

export class TcpTransport {
  readonly backend = 'tcp' as const;
  private readonly links = new Map<number, Conn>();
  private seq = 0;
  private heartbeat: NodeJS.Timeout | null = null;
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
      c.silentPeers = () => t.silentPeers(opTimeoutMs / 2);
      c.open(rank, peer, opTimeoutMs, (e) => t.onPeerFailure(e, peer));
    }
    // heartbeats on every link, so a peer whose link went down is told apart from one that waits
    if (opTimeoutMs > 0) {
      const beat = controlFrame({ type: 'alive' });
      t.heartbeat = setInterval(() => {
        for (const l of t.links.values()) if (!l.failed) l.writeControl(beat);
      }, Math.min(HEARTBEAT_MS, opTimeoutMs / 4));
      t.heartbeat.unref();
    }
    return t;
  }

  /** Whether every link reads into a reused buffer (socket-reads.ts), for tests and benches. */
  linksReadIntoReusedBuffers(): boolean {
    return [...this.links.values()].every((l) => readsIntoReusedBuffer(l.socket));
  }

  /** Peers not heard from (no data, no heartbeat) for `ms`, described for an error ('' if none). */
  private silentPeers(ms: number): string {
    const now = Date.now();
    const silent = [...this.links].filter(([, l]) => now - l.lastHeard >= ms).map(([p, l]) => `rank ${p} (${((now - l.lastHeard) / 1000).toFixed(1)} s)`);
    return silent.length ? `no traffic, not even heartbeats, from ${silent.join(', ')}` : '';
  }

  /** A link failed: every pending and later operation fails, and the other ranks are told why. */
  private onPeerFailure(e: Error, peer: number): void {
    if (this.closed || this.failure) return;
    this.failure = e;
    if (this.heartbeat) clearInterval(this.heartbeat);
    const reason = e.message.startsWith(`rank ${this.rank}: `) ? e.message : `rank ${this.rank}: ${e.message}`;
    for (const [p, l] of this.links) {
      if (p === peer) l.fail(e); // each link prefixes this rank
      else l.abort(reason);
    }
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

  /** Ring all-reduce into a new array (the input is left as it was). */
  async allReduce(data: Float32Array, op: ReduceOp = 'sum'): Promise<Float32Array> {
    const out = Float32Array.from(data);
    await this.allReduceInPlace(out, op);
    return out;
  }

  /** Ring all-reduce of `data` in place (see `allReduceParts`). */
  async allReduceInPlace(data: Float32Array, op: ReduceOp = 'sum'): Promise<void> {
    await this.allReduceParts([data], op);
  }

  /**
   * Ring all-reduce in place of `parts` taken as one array laid end to end (every rank passes
   * parts of the same lengths in the same order), so gradients are reduced in their own arrays
   * with no packing. Pipelined by chunks (ring-chunks.ts): 2(n-1) steps (reduce-scatter, then
   * all-gather) over segment `r - t - 1` / `r - t + n - 1`; every chunk's receive is registered
   * before anything is sent, so each arriving chunk is combined into (or copied to) its place as
   * its bytes come in, and is forwarded to the right neighbour as the next step's chunk as soon as
   * it is complete. Sends are zero-copy views of the parts; a region is only overwritten after its
   * last send has reached the peer (the data that overwrites it depends on that send). With 'mean'
   * the rank that completes a chunk's sum divides it before the all-gather forwards it.
   */
  async allReduceParts(parts: readonly Float32Array[], op: ReduceOp = 'sum'): Promise<void> {
    const n = this.worldSize;
    if (n === 1) return;
    const seq = this.next();
    const right = this.link((this.rank + 1) % n);
    const leftRank = (this.rank - 1 + n) % n;
    const left = this.link(leftRank);
    const total = parts.reduce((a, p) => a + p.length, 0);
    const what = `rank ${this.rank}: allReduce #${seq} (${total} values${parts.length > 1 ? ` in ${parts.length} arrays` : ''})`;
    const segments = ringChunks(parts, n, CHUNK);
    if (Math.max(...segments.map((s) => s.length)) > MAX_CHUNKS || 2 * n * MAX_CHUNKS > CONTROL) throw new TransportError(`allReduce: ${total} floats in ${parts.length} arrays over ${n} ranks is too large for one call`);
    const seg = (i: number) => segments[((i % n) + n) % n];
    const steps = 2 * (n - 1);
    const region = (t: number) => (t < n - 1 ? seg(this.rank - t - 1) : seg(this.rank - t + n - 1));
    const sinkOp = op === 'max' ? 'max' : op === 'min' ? 'min' : 'sum';
    const pending: Promise<void>[] = [];
    for (let t = 0; t < steps; t++) {
      region(t).forEach((part, k) => {
        const got = left.recvInto(seq, t * MAX_CHUNKS + k, new FloatSink(part, t < n - 1 ? sinkOp : 'copy'), what);
        // the last reduce-scatter step completes this rank's segment: it is averaged once, here,
        // and the all-gather hands every rank the same averaged values
        const complete = op === 'mean' && t === n - 2 ? got.then(() => divide(part, n)) : got;
        pending.push(t + 1 < steps ? complete.then(() => right.send(seq, (t + 1) * MAX_CHUNKS + k, bytes(part))) : complete);
      });
    }
    seg(this.rank).forEach((part, k) => pending.push(right.send(seq, k, bytes(part))));
    // the last forwarded chunks may still wait in the socket: the parts are the caller's once they left
    await Promise.all(pending);
  }

  /** Every rank's array, in rank order (arrays may differ in length). */
  async allGather(data: Float32Array): Promise<Float32Array[]> {
    const n = this.worldSize;
    if (n === 1) return [Float32Array.from(data)];
    const seq = this.next();
    const sent: Promise<void>[] = [];
    for (let p = 0; p < n; p++) if (p !== this.rank) sent.push(this.link(p).send(seq, 0, bytes(data)));
    for (const p of sent) p.catch(() => {}); // a failed link also fails a receive, which reports it
    const what = `rank ${this.rank}: allGather #${seq}`;
    const parts = await Promise.all(Array.from({ length: n }, (_, p) => (p === this.rank ? Promise.resolve(null) : this.link(p).recv(seq, 0, what))));
    await Promise.all(sent);
    return parts.map((b, p) => (p === this.rank ? Float32Array.from(data) : f32(b!, p, what)));
  }

  /** Root's array on every rank. */
  async broadcast(data: Float32Array | null, root: number): Promise<Float32Array> {
    if (root < 0 || root >= this.worldSize) throw new TransportError(`broadcast: root ${root} is outside the world of size ${this.worldSize}`);
    if (this.worldSize === 1) return Float32Array.from(data ?? []);
    const seq = this.next();
    if (this.rank === root) {
      if (!data) throw new TransportError('broadcast: the root must pass data');
      const copy = Float32Array.from(data);
      const sent: Promise<void>[] = [];
      for (let p = 0; p < this.worldSize; p++) if (p !== root) sent.push(this.link(p).send(seq, 0, bytes(copy)));
      await Promise.all(sent);
      return copy;
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
    const sent = this.link(to).send(seq, 0, bytes(data));
    sent.catch(() => {}); // a failed link also fails the receive below, which reports it
    const what = `rank ${this.rank}: exchange #${seq} with rank ${from}`;
    const got = f32(await this.link(from).recv(seq, 0, what), from, what);
    await sent;
    return got;
  }

  close(): void {
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const l of this.links.values()) l.close();
    this.links.clear();
  }
}
