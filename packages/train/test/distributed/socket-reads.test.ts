import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { adoptAccepted, consumeChunks, dialSocket, readsIntoReusedBuffer, READ_BUFFER_BYTES } from '../../src/distributed/socket-reads.js';

/** Collects what `s` reads until `bytes` arrived (the chunks are copied: they are views of a reused buffer). */
function collect(s: Socket, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const timer = setTimeout(() => reject(new Error(`received ${got} of ${bytes} bytes in 20 s`)), 20_000);
    consumeChunks(s, (chunk) => {
      parts.push(Buffer.from(chunk));
      got += chunk.length;
      if (got >= bytes) {
        clearTimeout(timer);
        resolve(Buffer.concat(parts));
      }
    });
  });
}

/** Writes `data` in pieces of irregular sizes, so reads split it anywhere. */
function writeIrregular(s: Socket, data: Buffer): void {
  for (let at = 0, k = 1; at < data.length; k++) {
    const n = Math.min(data.length - at, (k * 7919) % (3 * READ_BUFFER_BYTES) + 1);
    s.write(data.subarray(at, at + n));
    at += n;
  }
}

async function pair(): Promise<{ dialled: Socket; accepted: Socket; close: () => void }> {
  const server = createServer({ pauseOnConnect: true });
  const accepted = new Promise<Socket>((resolve) => server.once('connection', (raw: Socket) => resolve(adoptAccepted(raw))));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dialled = dialSocket('127.0.0.1', (server.address() as { port: number }).port);
  const a = await accepted;
  server.close();
  return { dialled, accepted: a, close: () => (dialled.destroy(), a.destroy()) };
}

test('dialled and accepted sockets both read into a reused buffer and deliver every byte in order, both ways', async () => {
  const { dialled, accepted, close } = await pair();
  try {
    assert.equal(readsIntoReusedBuffer(dialled), true);
    assert.equal(readsIntoReusedBuffer(accepted), true);
    const there = randomBytes(5 * READ_BUFFER_BYTES + 12345);
    const back = randomBytes(3 * READ_BUFFER_BYTES + 777);
    const gotThere = collect(accepted, there.length);
    const gotBack = collect(dialled, back.length);
    writeIrregular(dialled, there);
    writeIrregular(accepted, back);
    assert.ok((await gotThere).equals(there), 'dialled → accepted bytes differ');
    assert.ok((await gotBack).equals(back), 'accepted → dialled bytes differ');
  } finally {
    close();
  }
});

test('bytes read before a consumer is attached are kept (copied) and handed first', async () => {
  const { dialled, accepted, close } = await pair();
  try {
    const early = randomBytes(2 * READ_BUFFER_BYTES + 99);
    const late = randomBytes(READ_BUFFER_BYTES + 5);
    writeIrregular(accepted, early);
    await new Promise((r) => setTimeout(r, 200)); // the dialled side reads them with no consumer yet
    const got = collect(dialled, early.length + late.length);
    writeIrregular(accepted, late);
    assert.ok((await got).equals(Buffer.concat([early, late])));
  } finally {
    close();
  }
});

test('a socket that was not dialled or adopted here is read the default way', async () => {
  const server = createServer();
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { connect } = await import('node:net');
  const plain = connect({ host: '127.0.0.1', port: (server.address() as { port: number }).port });
  const a = await accepted;
  server.close();
  try {
    assert.equal(readsIntoReusedBuffer(plain), false);
    const data = randomBytes(100_000);
    const got = collect(plain, data.length);
    a.write(data);
    assert.ok((await got).equals(data));
  } finally {
    plain.destroy();
    a.destroy();
  }
});
