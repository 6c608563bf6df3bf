/**
 * Sockets that read into one reused buffer. Node's default reading gives every read a freshly
 * allocated Buffer: on loopback that costs more than the copy itself (fresh pages, garbage). A
 * 100 MB stream between two processes on this project's 2-core machine arrived at 0.2–0.5 GB/s
 * that way and at 1.7–2.4 GB/s into a reused 1 MiB buffer. Node's `onread` option does that for
 * sockets it dials; for accepted sockets `net.Server` offers no such option, so the accepted
 * handle is wrapped in a new Socket created with it, before anything was read (the server runs
 * with `pauseOnConnect`).
 * Where that wrapping is not possible (a Node whose Socket keeps its handle elsewhere), the socket
 * reads the default way, which is slower but the same bytes.
 *
 * A chunk handed to the consumer is a view of the shared buffer, valid only during the call: a
 * consumer that keeps bytes must copy them.
 */
import { connect, Socket } from 'node:net';

/** Bytes read per call into the shared buffer of one socket. */
export const READ_BUFFER_BYTES = 1 << 20;

export type ChunkConsumer = (chunk: Buffer) => void;

interface Route {
  consumer: ChunkConsumer | null;
  /** Bytes read before a consumer was attached (copied: the buffer is reused). */
  early: Buffer[];
}

const routes = new WeakMap<Socket, Route>();

function onreadOption(route: Route): { buffer: Buffer; callback: (n: number) => boolean } {
  const buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  return {
    buffer,
    callback: (n: number) => {
      const chunk = buffer.subarray(0, n);
      if (route.consumer) route.consumer(chunk);
      else route.early.push(Buffer.from(chunk));
      return true; // keep reading
    },
  };
}

/** `net.connect` to host:port, reading into a reused buffer. */
export function dialSocket(host: string, port: number): Socket {
  const route: Route = { consumer: null, early: [] };
  const s = connect({ host, port, onread: onreadOption(route) });
  routes.set(s, route);
  return s;
}

/**
 * An accepted socket (from a server created with `pauseOnConnect: true`, nothing read yet) as one
 * that reads into a reused buffer; the same socket when its handle cannot be taken over.
 */
export function adoptAccepted(raw: Socket): Socket {
  const handle = (raw as unknown as { _handle?: unknown })._handle;
  if (!handle || typeof handle !== 'object' || typeof (handle as { readStart?: unknown }).readStart !== 'function') return raw;
  const route: Route = { consumer: null, early: [] };
  (raw as unknown as { _handle: unknown })._handle = null; // the new Socket owns it from here
  const s = new Socket({ handle, readable: true, writable: true, onread: onreadOption(route) } as ConstructorParameters<typeof Socket>[0]);
  routes.set(s, route);
  return s;
}

/** Whether `s` reads into a reused buffer (for tests and benches). */
export function readsIntoReusedBuffer(s: Socket): boolean {
  return routes.has(s);
}

/** Hands every chunk `s` reads to `consumer`, in order (what arrived before is handed first). */
export function consumeChunks(s: Socket, consumer: ChunkConsumer): void {
  const route = routes.get(s);
  if (!route) {
    s.on('data', consumer);
    s.resume(); // an accepted socket that could not be adopted is still paused
    return;
  }
  route.consumer = consumer;
  const early = route.early;
  route.early = [];
  for (const chunk of early) consumer(chunk);
}
