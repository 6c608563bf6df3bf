/**
 * Builders for tests and benchmarks: tar shards written with tar-stream (optionally truncated or with
 * broken members), small encoded images, and tiny factory modules (a character tokenizer) that worker
 * threads can import by URL.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, truncate, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tar from 'tar-stream';
import { encodeSynthetic } from '../src/synthetic/shapes.js';
import type { TokenizeFn } from '../src/pipeline/specs.js';

export interface ShardMember {
  name: string;
  data: Uint8Array | string;
  type?: 'file' | 'directory';
}

export async function tempDir(prefix = 'openclip-data-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Writes a tar with the members in order; `truncateBy` cuts that many bytes off the end afterwards. */
export async function writeTarFile(path: string, members: ShardMember[], truncateBy = 0): Promise<void> {
  const pack = tar.pack();
  const file = createWriteStream(path);
  pack.pipe(file as unknown as NodeJS.WritableStream);
  for (const m of members) {
    await new Promise<void>((resolve, reject) => {
      const cb = (e?: Error | null) => (e ? reject(e) : resolve());
      if (m.type === 'directory') pack.entry({ name: m.name, type: 'directory' }, cb);
      else pack.entry({ name: m.name }, m.data as Uint8Array, cb);
    });
  }
  pack.finalize();
  await once(file, 'close');
  if (truncateBy > 0) await truncate(path, (await stat(path)).size - truncateBy);
}

/** A small valid JPEG (a synthetic shape). */
export async function tinyImage(i: number, size = 24, format: 'jpg' | 'png' = 'jpg'): Promise<Uint8Array> {
  return (await encodeSynthetic(1234, i, size, format)).bytes;
}

/** Factory for a character-code tokenizer (worker threads import it by URL): `[n, contextLength]`, 0-padded. */
export default function charTokenizer(options: { contextLength?: number } = {}): TokenizeFn {
  const ctx = options.contextLength ?? 16;
  return (texts) => {
    const data = new Int32Array(texts.length * ctx);
    texts.forEach((t, i) => {
      for (let j = 0; j < Math.min(ctx, t.length); j++) data[i * ctx + j] = t.charCodeAt(j);
    });
    return { data, shape: [texts.length, ctx] };
  };
}

/** Decodes a row produced by `charTokenizer` back to its text. */
export function charDetokenize(row: Int32Array): string {
  let s = '';
  for (const c of row) if (c) s += String.fromCharCode(c);
  return s;
}

/** This module's URL, for `{ kind: 'factory', module }` specs. */
export const TEST_HELPERS_URL = import.meta.url;
