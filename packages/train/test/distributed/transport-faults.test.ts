/**
 * Fault suite for the TCP transport, on loopback only: hostile control frames, frames of the
 * wrong size, huge length headers, unauthenticated and duplicate ranks, stalled peers. Ranks
 * run in this process (or, for SIGSTOP, as children); every wait is bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TcpTransport, type TransportOptions } from '../../src/distributed/tcp-transport.js';
import { CONTROL, FrameReader, MAX_CONTROL_BYTES, controlFrame, header, parseControl } from '../../src/distributed/frames.js';
import { makeHello } from '../../src/distributed/handshake.js';

const SECRET = 'fault-suite-secret';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function rankOpts(rank: number, worldSize: number, port: number, extra: Partial<TransportOptions> = {}): TransportOptions {
  return { rank, worldSize, masterAddr: '127.0.0.1', masterPort: port, timeoutMs: 8000, opTimeoutMs: 8000, secret: SECRET, ...extra };
}

/** Rejects if `p` has not settled within `ms` (so a regression fails instead of hanging). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not settle in ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/** A raw client that speaks the wire format by hand (a hostile or fake rank). */
class RawPeer {
  readonly socket: Socket;
  private readonly reader = new FrameReader(() => 1 << 24);
  private readonly frames: { seq: number; step: number; body: Buffer }[] = [];
  private wake: (() => void) | null = null;
  closed: Promise<void>;

  constructor(port: number) {
    this.socket = connect({ host: '127.0.0.1', port });
    this.socket.on('error', () => {});
    this.socket.on('data', (d) => {
      this.frames.push(...this.reader.push(d));
      this.wake?.();
    });
    this.closed = new Promise((r) => this.socket.on('close', () => r()));
  }

  async ready(): Promise<void> {
    await new Promise<void>((r, j) => {
      this.socket.once('connect', () => r());
      this.socket.once('error', j);
    });
  }

  async control(): Promise<Record<string, unknown>> {
    while (!this.frames.length) await within(new Promise<void>((r) => (this.wake = r)), 5000, 'a control frame');
    const f = this.frames.shift()!;
    assert.equal(f.seq, CONTROL);
    return parseControl(f.body);
  }

  /** Answers the challenge with a valid hello (for a fake rank that knows the secret). */
  async join(rank: number, worldSize: number, secret = SECRET): Promise<Record<string, unknown>> {
    const ch = await this.control();
    const hello = makeHello(secret, ch.nonce as string, { rank, worldSize, port: 9, host: '127.0.0.1' });
    this.socket.write(controlFrame({ ...hello }));
    return this.control();
  }

  rawControl(body: string): void {
    const b = Buffer.from(body);
    this.socket.write(Buffer.concat([header(CONTROL, 0, b.length), b]));
  }
}

async function sumCheck(ts: TcpTransport[]): Promise<void> {
  const outs = await within(Promise.all(ts.map((t) => t.allReduce(Float32Array.from([t.rank + 1, 2])))), 5000, 'all-reduce');
  const n = ts.length;
  for (const o of outs) assert.deepEqual(Array.from(o), [(n * (n + 1)) / 2, 2 * n]);
}

test('a control frame whose body is JSON null, sent to the rendezvous port, does not kill rank 0', async () => {
  const port = await freePort();
  const r0 = TcpTransport.connect(rankOpts(0, 2, port));
  const bad = new RawPeer(port);
  await bad.ready();
  await bad.control(); // the challenge
  bad.rawControl('null');
  await within(bad.closed, 3000, 'rank 0 dropping the bad connection');
  const ts = await within(Promise.all([r0, TcpTransport.connect(rankOpts(1, 2, port))]), 8000, 'rendezvous');
  await sumCheck(ts);
  for (const t of ts) t.close();
});

test('a JSON null control frame sent to another rank\'s port does not kill that rank', async () => {
  const port = await freePort();
  let rank1Port = 0;
  const pending: Promise<TcpTransport>[] = [TcpTransport.connect(rankOpts(0, 3, port))];
  const listening = new Promise<void>((r) => {
    pending.push(TcpTransport.connect(rankOpts(1, 3, port, { onListen: (p) => ((rank1Port = p), r()) })));
  });
  await within(listening, 5000, 'rank 1 listening');
  for (const body of ['null', '[1,2]', '{"type":7}', 'not json']) {
    const bad = new RawPeer(rank1Port);
    await bad.ready();
    await bad.control();
    bad.rawControl(body);
    await within(bad.closed, 3000, `rank 1 dropping the connection that sent ${body}`);
  }
  pending.push(TcpTransport.connect(rankOpts(2, 3, port)));
  const ts = await within(Promise.all(pending), 8000, 'rendezvous');
  await sumCheck(ts.sort((a, b) => a.rank - b.rank));
  for (const t of ts) t.close();
});

test('a huge length header is refused at once, before its body is buffered', async () => {
  const port = await freePort();
  const r0 = TcpTransport.connect(rankOpts(0, 2, port));
  const bad = new RawPeer(port);
  await bad.ready();
  await bad.control();
  bad.socket.write(header(CONTROL, 0, 2 ** 40));
  const junk = Buffer.alloc(1 << 16, 120);
  let sent = 0;
  const pump = setInterval(() => {
    if (!bad.socket.destroyed && sent < 64 << 20) {
      bad.socket.write(junk);
      sent += junk.length;
    }
  }, 1);
  try {
    await within(bad.closed, 3000, 'rank 0 closing the connection');
  } finally {
    clearInterval(pump);
  }
  const ts = await within(Promise.all([r0, TcpTransport.connect(rankOpts(1, 2, port))]), 8000, 'rendezvous');
  await sumCheck(ts);
  for (const t of ts) t.close();
  assert.ok(MAX_CONTROL_BYTES < 2 ** 20);
});

test('a silent connection does not hold up the rendezvous', async () => {
  const port = await freePort();
  const r0 = TcpTransport.connect(rankOpts(0, 2, port));
  const silent = new RawPeer(port);
  await silent.ready();
  const ts = await within(Promise.all([r0, TcpTransport.connect(rankOpts(1, 2, port))]), 8000, 'rendezvous');
  await sumCheck(ts);
  await within(silent.closed, 3000, 'the silent connection being dropped once the mesh is complete');
  for (const t of ts) t.close();
});

test('a process without the secret cannot join, learns nothing, and the real rank still can', async () => {
  const port = await freePort();
  const r0 = TcpTransport.connect(rankOpts(0, 2, port));
  const intruder = new RawPeer(port);
  await intruder.ready();
  const answer = await intruder.join(1, 2, 'guessed-secret');
  assert.equal(answer.type, 'abort');
  assert.match(String(answer.reason), /failed authentication/);
  assert.equal(answer.table, undefined);
  await within(intruder.closed, 3000, 'the intruder being dropped');
  // a TcpTransport with the wrong secret fails with a clear error, fast
  await assert.rejects(within(TcpTransport.connect(rankOpts(1, 2, port, { secret: 'other' })), 5000, 'wrong-secret rank'), /refused the connection: rank 1 failed authentication/);
  const ts = await within(Promise.all([r0, TcpTransport.connect(rankOpts(1, 2, port))]), 8000, 'rendezvous');
  await sumCheck(ts);
  for (const t of ts) t.close();
});

test('a rank that is not rank 0 refuses a table it cannot authenticate', async () => {
  const port = await freePort();
  const fake0 = createServer((s) => {
    s.on('error', () => {});
    s.write(controlFrame({ type: 'challenge', nonce: 'ab'.repeat(16) }));
    s.once('data', () => s.write(controlFrame({ type: 'table', table: [{ rank: 0, host: '127.0.0.1', port }, { rank: 1, host: '127.0.0.1', port: 9 }], mac: '00'.repeat(32) })));
  });
  await new Promise<void>((r) => fake0.listen(port, '127.0.0.1', () => r()));
  try {
    await assert.rejects(within(TcpTransport.connect(rankOpts(1, 2, port)), 5000, 'rank 1'), /rank 0's table failed authentication/);
  } finally {
    fake0.close();
  }
});

test('without a secret the transport says so once at start, and still works', async () => {
  const port = await freePort();
  const lines: string[] = [];
  const ts = await within(Promise.all([0, 1].map((r) => TcpTransport.connect(rankOpts(r, 2, port, { secret: '', warn: (l) => lines.push(l) })))), 8000, 'rendezvous');
  await sumCheck(ts);
  assert.equal(lines.length, 2); // once per rank
  for (const l of lines) assert.match(l, /OPENCLIP_DIST_SECRET is not set/);
  for (const t of ts) t.close();
});

test('ranks other than 0 listen on the interface that reaches MASTER_ADDR, or on the configured address', async () => {
  const port = await freePort();
  const hosts: string[] = [];
  const ts = await within(
    Promise.all([TcpTransport.connect(rankOpts(0, 3, port)), TcpTransport.connect(rankOpts(1, 3, port, { onListen: (_, h) => hosts.push(h) })), TcpTransport.connect(rankOpts(2, 3, port, { bindAddr: '127.0.0.2', onListen: (_, h) => hosts.push(`bind ${h}`) }))]),
    8000,
    'rendezvous',
  );
  assert.deepEqual(hosts.sort(), ['127.0.0.1', 'bind 127.0.0.2']);
  await sumCheck(ts);
  for (const t of ts) t.close();
});

test('a duplicate rank stops the rendezvous at once, naming it', async () => {
  const port = await freePort();
  const r0 = TcpTransport.connect(rankOpts(0, 3, port, { timeoutMs: 60_000 }));
  const first = TcpTransport.connect(rankOpts(1, 3, port, { timeoutMs: 60_000 }));
  await new Promise((r) => setTimeout(r, 300));
  const second = TcpTransport.connect(rankOpts(1, 3, port, { timeoutMs: 60_000 }));
  const results = await within(Promise.allSettled([r0, first, second]), 5000, 'the rendezvous');
  assert.equal(results[0].status, 'rejected');
  assert.match(String((results[0] as PromiseRejectedResult).reason), /rank 1 joined twice/);
  for (const r of results.slice(1)) assert.equal(r.status, 'rejected');
});

test('an authenticated hello with an out-of-range rank or another world size stops the rendezvous, naming it', async () => {
  for (const [rank, world, want] of [
    [5, 2, /rank 5, which is outside 1\.\.1/],
    [1, 4, /rank 1 started with world size 4, rank 0 with 2/],
  ] as const) {
    const port = await freePort();
    const r0 = TcpTransport.connect(rankOpts(0, 2, port, { timeoutMs: 60_000 }));
    r0.catch(() => {}); // asserted below
    const fake = new RawPeer(port);
    await fake.ready();
    const answer = await fake.join(rank, world);
    assert.equal(answer.type, 'abort');
    await assert.rejects(within(r0, 3000, 'rank 0'), want);
  }
});

test('a peer frame of the wrong size fails the collective with an error naming the rank', async () => {
  for (const [bytes, want] of [
    [6, /protocol error from rank 1: sent a frame of 6 bytes/],
    [12, /rank 1 sent 3 values where 2 were expected/],
  ] as const) {
    const port = await freePort();
    const r0 = TcpTransport.connect(rankOpts(0, 2, port));
    const fake = new RawPeer(port);
    await fake.ready();
    const table = await fake.join(1, 2);
    assert.equal(table.type, 'table');
    const t0 = await within(r0, 5000, 'rank 0');
    fake.socket.write(Buffer.concat([header(1, 0, bytes), Buffer.alloc(bytes)]));
    await assert.rejects(within(t0.allReduce(new Float32Array(4)), 5000, 'the all-reduce'), want);
    t0.close();
    fake.socket.destroy();
  }
});

test('a data frame larger than anything allowed before the handshake is refused', async () => {
  const port = await freePort();
  const r0 = TcpTransport.connect(rankOpts(0, 2, port));
  const bad = new RawPeer(port);
  await bad.ready();
  await bad.control();
  bad.socket.write(header(1, 0, 1 << 30));
  await within(bad.closed, 3000, 'rank 0 closing');
  const ts = await within(Promise.all([r0, TcpTransport.connect(rankOpts(1, 2, port))]), 8000, 'rendezvous');
  for (const t of ts) t.close();
});

test('a collective times out naming the peer that never answers', async () => {
  const port = await freePort();
  const ts = await within(Promise.all([0, 1].map((r) => TcpTransport.connect(rankOpts(r, 2, port, { opTimeoutMs: 400 })))), 8000, 'rendezvous');
  const t0 = Date.now();
  await assert.rejects(within(ts[0].allReduce(new Float32Array(3)), 5000, 'the all-reduce'), /allReduce #1 .*timed out after 0.4 s waiting for rank 1/);
  assert.ok(Date.now() - t0 < 3000);
  for (const t of ts) t.close();
});

const script = fileURLToPath(new URL('../../test-support/transport-rank.js', import.meta.url));

test('a SIGSTOPped rank makes the others fail after the timeout with an error naming it', { skip: process.platform === 'win32' ? 'no SIGSTOP' : false }, async () => {
  const port = await freePort();
  const children = [0, 1].map((r) => spawn(process.execPath, [script, String(r), '2', String(port), 'stall'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, OPENCLIP_DIST_SECRET: SECRET } }));
  try {
    const out0 = await within(
      new Promise<Record<string, unknown>>((resolve) => {
        let text = '';
        children[0].stdout!.on('data', (d) => (text += d));
        children[0].on('exit', () => resolve(JSON.parse(text.trim().split('\n').pop() || '{}')));
      }),
      20_000,
      'rank 0',
    );
    assert.match(String(out0.error), /timed out after 1 s waiting for rank 1/);
  } finally {
    for (const c of children) c.kill('SIGKILL');
  }
});
