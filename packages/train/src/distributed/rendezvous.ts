/**
 * Builds the mesh: every rank other than 0 dials rank 0 at `MASTER_ADDR:MASTER_PORT`, proves
 * membership (handshake.ts) and receives the table of every rank's address; then each rank dials
 * the lower non-zero ranks and accepts the higher ones. Ranks other than 0 listen on the address
 * their connection to rank 0 left from (the interface that reaches `MASTER_ADDR`), or on
 * `bindAddr`. Everything is bounded by one deadline; a failure names the ranks concerned.
 *
 * A connection that fails the handshake (bad frame, bad MAC, timeout) is dropped and the
 * rendezvous goes on; an authenticated rank that cannot belong (world size mismatch, rank out
 * of range, a rank that joined twice) stops the rendezvous at once with that reason.
 */
import { createServer, isIP, type Server, type Socket } from 'node:net';
import { adoptAccepted, dialSocket } from './socket-reads.js';
import { Conn, TransportError } from './conn.js';
import { controlFrame } from './frames.js';
import { checkHello, mac, macOk, makeHello, nonce } from './handshake.js';

export interface RendezvousOptions {
  rank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  secret: string;
  deadline: number;
  timeoutMs: number;
  /** Address ranks other than 0 listen on; default: the local address that reaches rank 0. */
  bindAddr?: string;
  /** Called with this rank's listening port (logs, fault tests). */
  onListen?: (port: number, host: string) => void;
}

export interface TableEntry {
  rank: number;
  host: string;
  port: number;
}

/** Concurrent unauthenticated connections a rank will hold before refusing more. */
const MAX_PENDING = 64;
/** Refusal reasons remembered for the timeout message. */
const MAX_REASONS = 8;

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
      const s = dialSocket(host, port);
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

const plainHost = (h: string) => (h.startsWith('::ffff:') ? h.slice(7) : h);

/**
 * Accepts connections, runs the server side of the handshake on each and hands authenticated
 * hellos to `admit`, which returns an error message to stop the rendezvous, or null.
 */
function serveHandshakes(server: Server, o: RendezvousOptions, admit: (c: Conn, hello: { rank: number; worldSize: number; port: number; host: string; nonce: string }) => string | null, stop: (e: Error) => void, refused: string[]): Set<Conn> {
  const pending = new Set<Conn>();
  server.on('connection', (raw: Socket) => {
    if (pending.size >= MAX_PENDING) return raw.destroy();
    const s = adoptAccepted(raw);
    const from = `${plainHost(s.remoteAddress ?? '?')}:${s.remotePort ?? '?'}`;
    const c: Conn = new Conn(s, (): string => (c.peer >= 0 ? `rank ${c.peer}` : `a connection from ${from}`));
    pending.add(c);
    const challenge = nonce();
    c.writeControl(controlFrame({ type: 'challenge', nonce: challenge }));
    c.control(o.deadline, `rank ${o.rank}: handshake with ${from}`)
      .then((m) => {
        const bad = checkHello(o.secret, challenge, m);
        if (bad) {
          if (refused.length < MAX_REASONS) refused.push(`${from}: ${bad}`);
          c.writeControl(controlFrame({ type: 'abort', reason: `rank ${o.rank} refused the connection: ${bad}` }));
          return c.close();
        }
        const h = m as unknown as { rank: number; worldSize: number; port: number; host: string; nonce: string };
        const stopWith = admit(c, { ...h, host: h.host && isIP(h.host) && h.host !== '0.0.0.0' && h.host !== '::' ? h.host : plainHost(s.remoteAddress ?? '') });
        if (stopWith) {
          c.writeControl(controlFrame({ type: 'abort', reason: stopWith }));
          c.close();
          stop(new TransportError(stopWith));
        }
      })
      .catch((e: Error) => {
        if (refused.length < MAX_REASONS) refused.push(`${from}: ${e.message}`);
        c.destroy();
      })
      .finally(() => pending.delete(c));
  });
  return pending;
}

/** Client side: reads the challenge, sends a hello, returns the answer (table / welcome). */
async function dial(c: Conn, o: RendezvousOptions, port: number, host: string, what: string, expect: string): Promise<{ msg: Record<string, unknown>; myNonce: string }> {
  const ch = await c.control(o.deadline, what);
  if (ch.type === 'abort') throw new TransportError(`${what}: ${String(ch.reason)}`);
  if (ch.type !== 'challenge' || typeof ch.nonce !== 'string') throw new TransportError(`${what}: expected a challenge, got '${ch.type}'`);
  const hello = makeHello(o.secret, ch.nonce, { rank: o.rank, worldSize: o.worldSize, port, host });
  c.writeControl(controlFrame({ ...hello }));
  const msg = await c.control(o.deadline, what);
  if (msg.type === 'abort') throw new TransportError(`${what}: ${String(msg.reason)}`);
  if (msg.type !== expect) throw new TransportError(`${what}: expected '${expect}', got '${msg.type}'`);
  return { msg, myNonce: hello.nonce };
}

function checkTable(t: unknown, worldSize: number): TableEntry[] | null {
  if (!Array.isArray(t) || t.length !== worldSize) return null;
  for (let i = 0; i < t.length; i++) {
    const e = t[i] as TableEntry;
    if (!e || e.rank !== i || typeof e.host !== 'string' || !Number.isInteger(e.port) || e.port < 1 || e.port > 65535) return null;
  }
  return t as TableEntry[];
}

function withDeadline<T>(p: Promise<T>, deadline: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(onTimeout()), Math.max(0, deadline - Date.now()))))]).finally(() => clearTimeout(timer));
}

/** Runs the rendezvous; returns one open-able Conn per other rank (keyed by rank). */
export async function rendezvous(o: RendezvousOptions): Promise<Map<number, Conn>> {
  const { rank, worldSize } = o;
  const conns = new Map<number, Conn>();
  const server = createServer({ pauseOnConnect: true }); // accepted sockets are adopted before they read
  const refused: string[] = [];
  let stopped: (e: Error) => void = () => {};
  const stop = new Promise<never>((_, reject) => (stopped = reject));
  stop.catch(() => {});
  const expectFrom = rank === 0 ? worldSize - 1 : worldSize - 1 - rank; // rank 0 hears from all; others from higher ranks
  let allArrived: () => void = () => {};
  const arrived = new Promise<void>((r) => (allArrived = r));
  if (expectFrom === 0) allArrived();
  const hellos = new Map<number, { host: string; port: number; nonce: string }>();
  const handshaking = serveHandshakes(
    server,
    o,
    (c, h) => {
      if (h.worldSize !== worldSize) return `rank ${h.rank} started with world size ${h.worldSize}, rank ${rank} with ${worldSize}`;
      const lo = rank === 0 ? 1 : rank + 1;
      if (h.rank < lo || h.rank >= worldSize) return `rank ${rank} was dialled by rank ${h.rank}, which is outside ${lo}..${worldSize - 1} (world size ${worldSize})`;
      if (conns.has(h.rank)) return `rank ${h.rank} joined twice (two processes were started with the same rank)`;
      c.peer = h.rank;
      c.trust();
      conns.set(h.rank, c);
      hellos.set(h.rank, { host: h.host, port: h.port, nonce: h.nonce });
      if (rank !== 0) c.writeControl(controlFrame({ type: 'welcome', mac: mac(o.secret, ['welcome', h.nonce, rank, h.rank]) }));
      if (hellos.size === expectFrom) allArrived();
      return null;
    },
    (e) => stopped(e),
    refused,
  );
  const missing = (lo: number) => Array.from({ length: worldSize - lo }, (_, i) => i + lo).filter((r) => r !== rank && !conns.has(r));
  const why = () => (refused.length ? `; refused: ${refused.join('; ')}` : '');
  try {
    if (rank === 0) {
      await listen(server, o.masterPort, o.bindAddr ?? o.masterAddr).catch((e: NodeJS.ErrnoException) => {
        throw new TransportError(`rank 0: cannot listen on ${o.bindAddr ?? o.masterAddr}:${o.masterPort} (${e.code ?? e.message})`);
      });
      o.onListen?.(o.masterPort, o.bindAddr ?? o.masterAddr);
      await withDeadline(Promise.race([arrived, stop]), o.deadline, () => new TransportError(`rendezvous timed out after ${o.timeoutMs / 1000} s: rank(s) ${missing(1).join(', ')} did not arrive at ${o.masterAddr}:${o.masterPort}${why()}`));
      const table: TableEntry[] = [{ rank: 0, host: o.masterAddr, port: o.masterPort }];
      for (let r = 1; r < worldSize; r++) table.push({ rank: r, ...hellos.get(r)!, nonce: undefined } as TableEntry);
      const clean = table.map((e) => ({ rank: e.rank, host: e.host, port: e.port }));
      for (const [r, c] of conns) c.writeControl(controlFrame({ type: 'table', table: clean, mac: mac(o.secret, ['table', hellos.get(r)!.nonce, clean]) }));
      return conns;
    }
    const what0 = `rank ${rank}: rendezvous with rank 0 at ${o.masterAddr}:${o.masterPort}`;
    const ms = await connectWithRetry(o.masterAddr, o.masterPort, o.deadline, what0);
    const c0 = new Conn(ms, () => 'rank 0');
    c0.peer = 0;
    const host = o.bindAddr ?? plainHost(ms.localAddress ?? '127.0.0.1');
    const port = await listen(server, 0, host).catch((e: NodeJS.ErrnoException) => {
      c0.destroy();
      throw new TransportError(`rank ${rank}: cannot listen on ${host} (${e.code ?? e.message})`);
    });
    o.onListen?.(port, host);
    const { msg, myNonce } = await dial(c0, o, port, host, `${what0} (waiting for the other ranks)`, 'table').catch((e) => {
      c0.destroy();
      throw e;
    });
    const table = checkTable(msg.table, worldSize);
    if (!table || !macOk(o.secret, ['table', myNonce, msg.table], msg.mac)) {
      c0.destroy();
      throw new TransportError(`${what0}: rank 0's table failed authentication or is malformed (is ${'OPENCLIP_DIST_SECRET'} the same on every rank?)`);
    }
    c0.trust();
    conns.set(0, c0);
    for (const peer of table.filter((p) => p.rank > 0 && p.rank < rank)) {
      const what = `rank ${rank}: connecting to rank ${peer.rank} at ${peer.host}:${peer.port}`;
      const s = await connectWithRetry(peer.host, peer.port, o.deadline, what);
      const c = new Conn(s, () => `rank ${peer.rank}`);
      c.peer = peer.rank;
      conns.set(peer.rank, c);
      const { msg: w, myNonce: n } = await dial(c, o, port, host, what, 'welcome');
      if (!macOk(o.secret, ['welcome', n, peer.rank, rank], w.mac)) throw new TransportError(`${what}: its welcome failed authentication`);
      c.trust();
    }
    await withDeadline(Promise.race([arrived, stop]), o.deadline, () => new TransportError(`rank ${rank}: timed out after ${o.timeoutMs / 1000} s waiting for rank(s) ${missing(rank + 1).join(', ')} to connect${why()}`));
    return conns;
  } catch (e) {
    for (const c of conns.values()) {
      c.writeControl(controlFrame({ type: 'abort', reason: `rank ${rank}: ${(e as Error).message}`.slice(0, 4096) }));
      c.close();
      c.socket.setTimeout(2000, () => c.socket.destroy());
    }
    throw e;
  } finally {
    server.close(); // the mesh is complete (or abandoned); no more connections
    for (const c of handshaking) if (c.peer < 0) c.destroy();
  }
}
