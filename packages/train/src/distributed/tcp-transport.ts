/**
 * Collectives over TCP for data-parallel training (what torch.distributed's gloo backend gives
 * OpenCLIP): a rendezvous at rank 0's `MASTER_ADDR:MASTER_PORT`, then one socket per pair of
 * ranks, and on top of them ring all-reduce (reduce-scatter + all-gather, chunked), all-gather,
 * broadcast, barrier and point-to-point exchange on Float32Arrays.
 *
 * Every rank must call the collectives in the same order: each call takes the next sequence
 * number, which tags its messages. A rank that disconnects fails every pending and later
 * operation with an error naming it, so no rank hangs.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export type ReduceOp = 'sum' | 'mean' | 'max' | 'min';

export interface TransportOptions {
  rank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  /** How long the rendezvous waits for every rank (ms). */
  timeoutMs?: number;
  /** How long one collective may wait for a peer (ms); default: no limit beyond disconnects. */
  opTimeoutMs?: number;
}

export class TransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransportError';
  }
}

const HEADER = 16; // u32 seq, u32 step, u64 length
const CONTROL = 0xffffffff;

interface Waiter {
  resolve: (b: Buffer) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

/** One framed, multiplexed connection to a peer. */
class Link {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private readonly inbox = new Map<string, Buffer[]>();
  private readonly waiters = new Map<string, Waiter>();
  private failure: Error | null = null;

  constructor(
    readonly peer: number,
    readonly socket: Socket,
    private readonly opTimeoutMs: number | undefined,
    onFail: (peer: number, e: Error) => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.resume(); // readControl paused it so no frame is lost between the two readers
    socket.on('error', (e) => onFail(peer, new TransportError(`connection to rank ${peer} failed: ${e.message}`)));
    socket.on('close', () => onFail(peer, new TransportError(`rank ${peer} disconnected`)));
  }

  private onData(d: Buffer): void {
    this.chunks.push(d);
    this.buffered += d.length;
    for (;;) {
      if (this.buffered < HEADER) return;
      const head = this.peek(HEADER);
      const len = Number(head.readBigUInt64LE(8));
      if (this.buffered < HEADER + len) return;
      const frame = this.take(HEADER + len);
      this.deliver(`${frame.readUInt32LE(0)}:${frame.readUInt32LE(4)}`, frame.subarray(HEADER));
    }
  }

  private peek(n: number): Buffer {
    if (this.chunks[0].length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0].subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const frame = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered -= n;
    return frame;
  }

  private deliver(key: string, body: Buffer): void {
    const w = this.waiters.get(key);
    if (w) {
      this.waiters.delete(key);
      if (w.timer) clearTimeout(w.timer);
      w.resolve(body);
      return;
    }
    const q = this.inbox.get(key) ?? [];
    q.push(body);
    this.inbox.set(key, q);
  }

  send(seq: number, step: number, body: Uint8Array): void {
    if (this.failure) throw this.failure;
    const head = Buffer.alloc(HEADER);
    head.writeUInt32LE(seq >>> 0, 0);
    head.writeUInt32LE(step >>> 0, 4);
    head.writeBigUInt64LE(BigInt(body.byteLength), 8);
    this.socket.write(head);
    if (body.byteLength) this.socket.write(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  }

  recv(seq: number, step: number): Promise<Buffer> {
    const key = `${seq}:${step}`;
    const q = this.inbox.get(key);
    if (q?.length) {
      const b = q.shift()!;
      if (!q.length) this.inbox.delete(key);
      return Promise.resolve(b);
    }
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const w: Waiter = { resolve, reject };
      if (this.opTimeoutMs) {
        w.timer = setTimeout(() => {
          this.waiters.delete(key);
          reject(new TransportError(`timed out after ${this.opTimeoutMs} ms waiting for rank ${this.peer}`));
        }, this.opTimeoutMs);
      }
      this.waiters.set(key, w);
    });
  }

  fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const w of this.waiters.values()) {
      if (w.timer) clearTimeout(w.timer);
      w.reject(e);
    }
    this.waiters.clear();
  }

  /** Flushes what was written, then closes (destroy() would drop unsent frames). */
  close(): void {
    this.failure ??= new TransportError('transport closed');
    this.socket.end();
    this.socket.setTimeout(30_000, () => this.socket.destroy());
  }
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}

function connectWithRetry(host: string, port: number, deadline: number, what: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = connect({ host, port });
      s.once('connect', () => {
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (e: NodeJS.ErrnoException) => {
        s.destroy();
        if (Date.now() > deadline) reject(new TransportError(`${what}: could not connect to ${host}:${port} before the timeout (${e.code ?? e.message})`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

/** Reads one control message (JSON) from a raw socket before it is wrapped in a Link. */
function readControl(socket: Socket, deadline: number, what: string): Promise<{ msg: any; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new TransportError(`${what}: timed out`)), Math.max(0, deadline - Date.now()));
    const cleanup = () => {
      clearTimeout(timer);
      socket.pause();
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onClose);
    };
    const fail = (e: Error) => {
      cleanup();
      reject(e);
    };
    const onClose = () => fail(new TransportError(`${what}: connection closed`));
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < HEADER) return;
      const len = Number(buf.readBigUInt64LE(8));
      if (buf.readUInt32LE(0) !== CONTROL) return fail(new TransportError(`${what}: protocol error (expected a control message)`));
      if (buf.length < HEADER + len) return;
      cleanup();
      try {
        resolve({ msg: JSON.parse(buf.subarray(HEADER, HEADER + len).toString('utf8')), rest: buf.subarray(HEADER + len) });
      } catch (e) {
        reject(new TransportError(`${what}: bad control message (${(e as Error).message})`));
      }
    };
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', onClose);
  });
}

function control(msg: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(msg), 'utf8');
  const head = Buffer.alloc(HEADER);
  head.writeUInt32LE(CONTROL, 0);
  head.writeUInt32LE(0, 4);
  head.writeBigUInt64LE(BigInt(body.length), 8);
  return Buffer.concat([head, body]);
}

function f32(b: Buffer): Float32Array {
  if (b.byteOffset % 4 === 0) return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  const out = new Float32Array(b.byteLength / 4); // unaligned: copy
  new Uint8Array(out.buffer).set(b);
  return out;
}

/** Frames of at most this many floats, so sending, receiving and reducing overlap. */
const CHUNK = 1 << 20;
const MAX_CHUNKS = 1 << 16;

function bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export class TcpTransport {
  private readonly links = new Map<number, Link>();
  private seq = 0;
  private failure: Error | null = null;
  private closed = false;

  private constructor(
    readonly rank: number,
    readonly worldSize: number,
    private readonly server: Server | null,
  ) {}

  /** Joins the world: rendezvous at rank 0, then a socket to every other rank. */
  static async connect(o: TransportOptions): Promise<TcpTransport> {
    const { rank, worldSize } = o;
    if (!Number.isInteger(worldSize) || worldSize < 1) throw new TransportError(`world size must be a positive integer, got ${worldSize}`);
    if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) throw new TransportError(`rank ${rank} is outside the world of size ${worldSize}`);
    const timeoutMs = o.timeoutMs ?? 300_000;
    const deadline = Date.now() + timeoutMs;
    if (worldSize === 1) return new TcpTransport(0, 1, null);

    const server = createServer();
    const t = new TcpTransport(rank, worldSize, server);
    const pending = new Map<number, Socket>();
    const arrivals: ((s: Socket, peer: number) => void)[] = [];
    const accepted = new Promise<void>((resolveAll) => {
      const expect = rank === 0 ? worldSize - 1 : worldSize - 1 - rank; // rank 0 hears from all; others from higher ranks
      if (expect === 0) resolveAll();
      arrivals.push((s, peer) => {
        pending.set(peer, s);
        if (pending.size === expect) resolveAll();
      });
    });
    const hellos: { rank: number; host: string; port: number }[] = [];
    let onHello: (() => void) | null = null;
    server.on('connection', (s) => {
      readControl(s, deadline, `rank ${rank} rendezvous`).then(({ msg, rest }) => {
        if (msg.type !== 'hello' || !Number.isInteger(msg.rank)) return s.destroy();
        if (msg.worldSize !== worldSize) {
          s.write(control({ type: 'abort', reason: `rank ${msg.rank} started with world size ${msg.worldSize}, rank ${rank} with ${worldSize}` }));
          return s.destroy();
        }
        if (rest.length) s.unshift(rest);
        if (rank === 0) {
          hellos.push({ rank: msg.rank, host: msg.host ?? s.remoteAddress, port: msg.port });
          onHello?.();
        }
        arrivals[0](s, msg.rank);
      }, () => s.destroy());
    });
    const port = await listen(server, rank === 0 ? o.masterPort : 0, rank === 0 ? o.masterAddr : '0.0.0.0').catch((e: NodeJS.ErrnoException) => {
      server.close();
      throw new TransportError(`rank ${rank}: cannot listen on ${rank === 0 ? `${o.masterAddr}:${o.masterPort}` : 'an ephemeral port'} (${e.code ?? e.message})`);
    });

    try {
      let table: { rank: number; host: string; port: number }[];
      if (rank === 0) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            const here = new Set(hellos.map((h) => h.rank));
            const missing = Array.from({ length: worldSize - 1 }, (_, i) => i + 1).filter((r) => !here.has(r));
            const reason = `rendezvous timed out after ${timeoutMs} ms: rank(s) ${missing.join(', ')} did not arrive at ${o.masterAddr}:${o.masterPort}`;
            for (const s of pending.values()) s.end(control({ type: 'abort', reason }));
            reject(new TransportError(reason));
          }, timeoutMs);
          onHello = () => {
            if (hellos.length === worldSize - 1) {
              clearTimeout(timer);
              resolve();
            }
          };
          onHello();
        });
        table = [{ rank: 0, host: o.masterAddr, port }, ...hellos].sort((a, b) => a.rank - b.rank);
        for (const h of hellos) pending.get(h.rank)!.write(control({ type: 'table', table }));
        await accepted;
        for (const [peer, s] of pending) t.addLink(peer, s, o.opTimeoutMs);
      } else {
        const ms = await connectWithRetry(o.masterAddr, o.masterPort, deadline, `rank ${rank}: rendezvous with rank 0`);
        ms.write(control({ type: 'hello', rank, worldSize, port }));
        const { msg, rest } = await readControl(ms, deadline, `rank ${rank}: waiting for the other ranks at ${o.masterAddr}:${o.masterPort}`);
        if (msg.type === 'abort') throw new TransportError(msg.reason);
        if (msg.type !== 'table') throw new TransportError(`rank ${rank}: unexpected rendezvous message '${msg.type}'`);
        if (rest.length) ms.unshift(rest);
        table = msg.table;
        t.addLink(0, ms, o.opTimeoutMs);
        // connect to every lower non-zero rank; higher ranks connect to us
        for (const peer of table.filter((p) => p.rank > 0 && p.rank < rank)) {
          const host = peer.host.startsWith('::ffff:') ? peer.host.slice(7) : peer.host;
          const s = await connectWithRetry(host, peer.port, deadline, `rank ${rank}: connecting to rank ${peer.rank}`);
          s.write(control({ type: 'hello', rank, worldSize, port }));
          t.addLink(peer.rank, s, o.opTimeoutMs);
        }
        await Promise.race([
          accepted,
          new Promise((_, reject) => setTimeout(() => reject(new TransportError(`rank ${rank}: timed out waiting for higher ranks to connect`)), Math.max(0, deadline - Date.now()))),
        ]);
        for (const [peer, s] of pending) t.addLink(peer, s, o.opTimeoutMs);
      }
      server.close(); // the mesh is complete; no more connections
      return t;
    } catch (e) {
      for (const s of pending.values()) s.destroy();
      t.close();
      throw e;
    }
  }

  private addLink(peer: number, socket: Socket, opTimeoutMs: number | undefined): void {
    this.links.set(peer, new Link(peer, socket, opTimeoutMs, (p, e) => this.onPeerFailure(p, e)));
  }

  private onPeerFailure(peer: number, e: Error): void {
    if (this.closed) return;
    this.failure ??= e;
    for (const l of this.links.values()) l.fail(new TransportError(`rank ${this.rank}: ${e.message}`));
    void peer;
  }

  private link(peer: number): Link {
    if (this.failure) throw new TransportError(`rank ${this.rank}: ${this.failure.message}`);
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
    const left = this.link((this.rank - 1 + n) % n);
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
        const got = f32(await left.recv(seq, s * MAX_CHUNKS + k));
        const part = mine.subarray(k * CHUNK, (k + 1) * CHUNK);
        if (combine) for (let i = 0; i < part.length; i++) part[i] = combine(part[i], got[i]);
        else for (let i = 0; i < part.length; i++) part[i] += got[i];
      }
    }
    // all-gather of the reduced segments
    for (let s = 0; s < n - 1; s++) {
      sendSeg(n + s, seg(this.rank + 1 - s));
      const mine = seg(this.rank - s);
      for (let k = 0, c = chunks(mine); k < c; k++) mine.set(f32(await left.recv(seq, (n + s) * MAX_CHUNKS + k)), k * CHUNK);
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
    const parts = await Promise.all(Array.from({ length: n }, (_, p) => (p === this.rank ? Promise.resolve(null) : this.link(p).recv(seq, 0))));
    return parts.map((b, p) => (p === this.rank ? Float32Array.from(data) : f32(b!)));
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
    return f32(await this.link(root).recv(seq, 0));
  }

  async barrier(): Promise<void> {
    await this.allReduce(new Float32Array(1));
  }

  /** Sends `data` to `to` and receives from `from` (ranks other than this one). */
  async exchange(from: number, to: number, data: Float32Array): Promise<Float32Array> {
    const seq = this.next();
    this.link(to).send(seq, 0, bytes(data));
    return f32(await this.link(from).recv(seq, 0));
  }

  close(): void {
    this.closed = true;
    for (const l of this.links.values()) l.close();
    this.links.clear();
    this.server?.close();
  }
}
