/**
 * One framed TCP connection to another rank. During the rendezvous it yields control messages
 * one at a time (`control()`, each with a deadline); after `open()` it multiplexes data frames
 * by (sequence, step) for the collectives, each receive bounded by the collective timeout.
 *
 * Nothing from the peer is believed: frames are size-checked as their header arrives, control
 * bodies must be JSON objects with a type, bodies must hold whole float32 values, and only one
 * frame is read before the peer has proven membership (the caller's handshake), so an
 * unauthenticated peer can never make this process buffer more than one control message.
 */
import type { Socket } from 'node:net';
import { CONTROL, controlFrame, FrameError, FrameReader, MAX_CONTROL_BYTES, parseControl, header, type BodySink, type Frame } from './frames.js';
import type { FloatSink } from './float-sink.js';
import { consumeChunks } from './socket-reads.js';

export class TransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransportError';
  }
}

/** The largest data frame: what a Buffer can hold (broadcast and all-gather send whole arrays). */
const MAX_DATA_BYTES = 2 ** 32 - 1;
/** TCP keepalive probes start after this much silence, so a vanished host is noticed. */
const KEEPALIVE_MS = 30_000;

interface Waiter {
  resolve: (b: Buffer) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

interface SinkWaiter {
  sink: FloatSink;
  what: string;
  resolve: () => void;
  reject: (e: Error) => void;
}

export class Conn {
  /** The peer's rank once known (-1 before its hello). */
  peer = -1;
  private readonly reader: FrameReader;
  private frames: Frame[] = [];
  private held: Buffer[] = [];
  private gated = true;
  private mode: 'control' | 'data' = 'control';
  private controlWaiter: Waiter | null = null;
  private readonly inbox = new Map<string, Buffer[]>();
  private readonly waiters = new Map<string, Waiter>();
  /** Receivers waiting with a destination (recvInto), by key; `filling`: those whose frame is arriving. */
  private readonly sinks = new Map<string, SinkWaiter>();
  private readonly filling = new Map<BodySink, SinkWaiter>();
  /** One deadline for all sink receivers: it fails them when no data frame started or ended for `opTimeoutMs`. */
  private sinkTimer: NodeJS.Timeout | null = null;
  private lastProgress = 0;
  private failure: Error | null = null;
  private onFail: ((e: Error) => void) | null = null;
  private opTimeoutMs = 0;
  /** When the peer last sent anything (data, heartbeat), ms since the epoch. */
  lastHeard = Date.now();
  /** Set by the transport: which peers have gone silent, for timeout errors ('' if none). */
  silentPeers: (() => string) | null = null;
  /** This process's rank once the link is open: errors handed to callers start with it. */
  private self = -1;
  /** The peer said 'bye': it finished every collective and closed its transport in order. */
  private peerDone = false;

  constructor(
    readonly socket: Socket,
    private readonly label: () => string,
  ) {
    this.reader = new FrameReader(
      (seq) => (seq === CONTROL ? MAX_CONTROL_BYTES : this.gated ? 0 : MAX_DATA_BYTES),
      (seq, step, length) => this.sinkFor(seq, step, length),
    );
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_MS);
    consumeChunks(socket, (d: Buffer) => this.onData(d));
    socket.on('error', (e) => (this.peerDone ? this.onClose() : this.fail(new TransportError(`connection to ${this.label()} failed: ${e.message}`))));
    socket.on('close', () => this.onClose());
  }

  /**
   * The socket closed. After the peer's 'bye' that is an orderly end: the peer finished, so only
   * receives still waiting on it fail (it will send nothing more); other ranks' collectives go on.
   * Without a 'bye' the peer died or its link broke, which stops the whole transport.
   */
  private onClose(): void {
    const pending = this.waiters.size + this.sinks.size + this.filling.size;
    if (!this.peerDone || pending) return this.fail(new TransportError(`${this.label()} disconnected${this.peerDone ? ' after closing its transport (it left a collective this rank still waits in: ranks out of step)' : ''}`));
    this.failure ??= new TransportError(`${this.self >= 0 ? `rank ${this.self}: ` : ''}${this.label()} has closed its transport`);
    if (this.sinkTimer) clearTimeout(this.sinkTimer);
    this.sinkTimer = null;
  }

  /** `d` may be a view of the socket's reused read buffer: what is kept is copied. */
  private onData(d: Buffer): void {
    if (this.failure) return;
    this.lastHeard = Date.now();
    if (this.gated && (this.frames.length || this.held.length)) {
      this.held.push(Buffer.from(d)); // one unauthenticated frame at a time
      return;
    }
    let got: Frame[];
    try {
      got = this.reader.push(d, this.gated ? 1 : Infinity);
    } catch (e) {
      return this.protocolError((e as Error).message);
    }
    // while gated, frames are read one at a time: what follows the first waits, unparsed
    if (this.reader.consumed < d.length) this.held.push(Buffer.from(d.subarray(this.reader.consumed)));
    for (const f of got) this.onFrame(f);
  }

  /** The waiting destination for a data frame whose header just arrived, or null (buffer it). */
  private sinkFor(seq: number, step: number, length: number): FloatSink | null {
    if (seq === CONTROL || this.gated || this.mode !== 'data') return null;
    const key = `${seq}:${step}`;
    const w = this.sinks.get(key);
    if (!w) return null;
    if (length !== w.sink.byteLength) {
      throw new FrameError(length % 4 ? `sent a frame of ${length} bytes, not a whole number of float32 values` : `${w.what}: ${this.label()} sent ${length / 4} values where ${w.sink.byteLength / 4} were expected`);
    }
    this.sinks.delete(key);
    this.filling.set(w.sink, w);
    this.lastProgress = Date.now(); // data is coming (heartbeats do not count)
    return w.sink;
  }

  private onFrame(f: Frame): void {
    if (f.seq !== CONTROL) this.lastProgress = Date.now();
    if (f.sink) {
      const w = this.filling.get(f.sink);
      this.filling.delete(f.sink);
      w?.resolve();
      return;
    }
    if (f.seq !== CONTROL && this.gated) return this.protocolError('sent data before the handshake finished');
    if (f.seq === CONTROL && this.mode === 'control') {
      this.frames.push(f);
      this.flushControl();
      return;
    }
    if (f.seq === CONTROL) {
      let msg;
      try {
        msg = parseControl(f.body);
      } catch (e) {
        return this.protocolError((e as Error).message);
      }
      if (msg.type === 'abort') return this.fail(new TransportError(`${this.label()} aborted: ${String(msg.reason ?? 'no reason given')}`));
      if (msg.type === 'alive') return; // heartbeat: lastHeard is set
      if (msg.type === 'bye') {
        this.peerDone = true; // its close follows
        return;
      }
      return this.protocolError(`unexpected control message '${msg.type}' after the rendezvous`);
    }
    if (f.body.length % 4 !== 0) return this.protocolError(`sent a frame of ${f.body.length} bytes, not a whole number of float32 values`);
    const key = `${f.seq}:${f.step}`;
    const w = this.waiters.get(key);
    if (w) {
      this.waiters.delete(key);
      if (w.timer) clearTimeout(w.timer);
      w.resolve(f.body);
      return;
    }
    const sw = this.sinks.get(key); // registered while this frame was already arriving
    if (sw) {
      this.sinks.delete(key);
      if (f.body.byteLength !== sw.sink.byteLength) return sw.reject(new TransportError(`${sw.what}: ${this.label()} sent ${f.body.byteLength / 4} values where ${sw.sink.byteLength / 4} were expected (ranks out of step or a corrupt peer)`));
      sw.sink.write(f.body, 0, f.body.byteLength);
      sw.resolve();
      return;
    }
    const q = this.inbox.get(key) ?? [];
    q.push(f.body);
    this.inbox.set(key, q);
  }

  private protocolError(what: string): void {
    this.fail(new TransportError(`protocol error from ${this.label()}: ${what}`));
    this.socket.destroy();
  }

  private flushControl(): void {
    if (!this.controlWaiter || !this.frames.length) return;
    const w = this.controlWaiter;
    this.controlWaiter = null;
    if (w.timer) clearTimeout(w.timer);
    w.resolve(this.frames.shift()!.body);
  }

  /** The next control message, or a TransportError on timeout, bad frame or close. */
  async control(deadline: number, what: string): Promise<Record<string, unknown> & { type: string }> {
    const body = await new Promise<Buffer>((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      const w: Waiter = { resolve, reject };
      w.timer = setTimeout(() => {
        this.controlWaiter = null;
        reject(new TransportError(`${what}: timed out`));
      }, Math.max(0, deadline - Date.now()));
      this.controlWaiter = w;
      if (!this.frames.length) this.release(); // pull the next held frame, if one came
      this.flushControl();
    });
    try {
      return parseControl(body);
    } catch (e) {
      throw new TransportError(`${what}: ${(e as Error).message}`);
    }
  }

  private release(): void {
    const held = this.held;
    this.held = [];
    for (const d of held) this.onData(d);
  }

  /** The peer proved membership: its data frames may arrive (they wait in the inbox). */
  trust(): void {
    if (!this.gated) return;
    this.gated = false;
    this.release();
  }

  /** The rendezvous is over: each receive waits at most `opTimeoutMs`; failures go to `onFail`. */
  open(self: number, peer: number, opTimeoutMs: number, onFail: (e: Error) => void): void {
    this.self = self;
    this.peer = peer;
    this.opTimeoutMs = opTimeoutMs;
    this.onFail = onFail;
    this.trust();
    this.mode = 'data';
    const early = this.frames; // control frames not yet read: an abort, or a protocol error
    this.frames = [];
    for (const f of early) this.onFrame(f);
    if (this.failure) onFail(this.failure);
  }

  writeControl(buf: Buffer): void {
    if (this.peerDone || this.socket.writableEnded) return; // nothing more goes to a peer that left
    this.socket.write(buf);
  }

  /**
   * Queues a frame; the body is not copied, so the caller must leave it unchanged until the
   * returned promise resolves (the kernel has taken every byte) or rejects (the link failed).
   */
  send(seq: number, step: number, body: Uint8Array): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const done = (e?: Error | null) => (e ? reject(this.failure ?? new TransportError(`sending to ${this.label()} failed: ${e.message}`)) : resolve());
      this.socket.write(header(seq, step, body.byteLength));
      this.socket.write(Buffer.from(body.buffer, body.byteOffset, body.byteLength), done);
    });
  }

  /** The body tagged (seq, step); `what` names the collective in a timeout. */
  recv(seq: number, step: number, what: string): Promise<Buffer> {
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
      if (this.opTimeoutMs > 0) {
        w.timer = setTimeout(() => {
          this.waiters.delete(key);
          const e = this.timeoutError(what);
          this.fail(e);
          reject(e);
        }, this.opTimeoutMs);
      }
      this.waiters.set(key, w);
    });
  }

  /**
   * Receives the body tagged (seq, step) into `sink` (its destination decides the expected
   * length): written as it arrives when registered before the frame comes, else from the inbox.
   */
  recvInto(seq: number, step: number, sink: FloatSink, what: string): Promise<void> {
    const key = `${seq}:${step}`;
    const q = this.inbox.get(key);
    if (q?.length) {
      const b = q.shift()!;
      if (!q.length) this.inbox.delete(key);
      if (b.byteLength !== sink.byteLength) return Promise.reject(new TransportError(`${what}: ${this.label()} sent ${b.byteLength / 4} values where ${sink.byteLength / 4} were expected (ranks out of step or a corrupt peer)`));
      sink.write(b, 0, b.byteLength);
      return Promise.resolve();
    }
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.sinks.set(key, { sink, what, resolve, reject });
      if (this.opTimeoutMs > 0 && !this.sinkTimer) {
        this.lastProgress = Date.now();
        this.armSinkTimer(this.opTimeoutMs);
      }
    });
  }

  private timeoutError(what: string): TransportError {
    const silent = this.silentPeers?.() ?? '';
    return new TransportError(`${what}: timed out after ${this.opTimeoutMs / 1000} s waiting for ${this.label()} (stopped, overloaded, out of step or its link is down; OPENCLIP_DIST_TIMEOUT_S sets the limit)${silent ? `; ${silent}` : ''}`);
  }

  private armSinkTimer(ms: number): void {
    this.sinkTimer = setTimeout(() => {
      this.sinkTimer = null;
      const first = this.filling.values().next().value ?? this.sinks.values().next().value;
      if (!first) return;
      const idle = Date.now() - this.lastProgress;
      if (idle < this.opTimeoutMs) return this.armSinkTimer(this.opTimeoutMs - idle);
      this.fail(this.timeoutError(first.what));
    }, ms);
    this.sinkTimer.unref(); // the socket keeps the process alive while a receive waits
  }

  /** Tells the peer why this rank stops (it then fails naming the cause), and closes. */
  abort(reason: string): void {
    if (this.failure) return;
    this.failure = new TransportError(reason);
    for (const w of [...this.filling.values(), ...this.sinks.values(), ...this.waiters.values()]) w.reject(this.failure);
    this.sinks.clear();
    this.filling.clear();
    this.waiters.clear();
    if (this.sinkTimer) clearTimeout(this.sinkTimer);
    this.socket.end(controlFrame({ type: 'abort', reason }));
    this.socket.setTimeout(5_000, () => this.socket.destroy());
  }

  fail(cause: Error): void {
    if (this.failure) return;
    const mine = `rank ${this.self}: `;
    const e = this.self >= 0 && !cause.message.startsWith(mine) ? new TransportError(mine + cause.message) : cause;
    this.failure = e;
    if (this.controlWaiter) {
      if (this.controlWaiter.timer) clearTimeout(this.controlWaiter.timer);
      this.controlWaiter.reject(e);
      this.controlWaiter = null;
    }
    for (const w of this.waiters.values()) {
      if (w.timer) clearTimeout(w.timer);
      w.reject(e);
    }
    this.waiters.clear();
    for (const w of [...this.filling.values(), ...this.sinks.values()]) w.reject(e);
    this.sinks.clear();
    this.filling.clear();
    if (this.sinkTimer) clearTimeout(this.sinkTimer);
    this.sinkTimer = null;
    this.socket.destroy(); // the link is unusable; the peer learns at once
    this.onFail?.(cause);
  }

  get failed(): Error | null {
    return this.failure;
  }

  /** Flushes what was written, then closes (destroy() would drop unsent frames). */
  close(): void {
    if (this.failure) return this.destroy(); // a failed peer may never acknowledge a graceful close
    this.failure = new TransportError('transport closed');
    if (this.sinkTimer) clearTimeout(this.sinkTimer);
    this.sinkTimer = null;
    this.socket.end(controlFrame({ type: 'bye' })); // an orderly close, not a crash
    this.socket.setTimeout(30_000, () => this.socket.destroy());
  }

  destroy(): void {
    this.failure ??= new TransportError('connection dropped');
    this.socket.destroy();
    this.socket.setTimeout(0);
  }
}
