/**
 * webdataset's `gopen` / `url_opener`: a shard URL opened as a byte stream, never read whole —
 * local paths (or `file:`), `http(s)://` through Node's fetch (streamed), and `pipe:<command>`
 * whose stdout is the shard (a non-zero exit is an error naming the command).
 */
import { spawn } from 'node:child_process';
import { createReadStream, statSync } from 'node:fs';
import { Readable, PassThrough } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

export type UrlKind = 'file' | 'http' | 'pipe';

export function urlKind(url: string): UrlKind {
  if (url.startsWith('pipe:')) return 'pipe';
  if (/^https?:\/\//i.test(url)) return 'http';
  return 'file';
}

export function localPathOf(url: string): string {
  if (url.startsWith('file://')) return decodeURIComponent(new URL(url).pathname);
  if (url.startsWith('file:')) return url.slice(5);
  return url;
}

/** Throws a clear error when a local shard does not exist or is not a file (remote ones are checked when read). */
export function checkShardExists(url: string): void {
  if (urlKind(url) !== 'file') return;
  const p = localPathOf(url);
  let st;
  try {
    st = statSync(p);
  } catch {
    throw new Error(`shard not found: ${p} (check --train-data / --val-data and the brace range)`);
  }
  if (!st.isFile()) throw new Error(`shard is not a file: ${p}`);
}

/** Opens `url` for streaming. Errors (missing file, HTTP status, command failure) surface as stream errors or a rejected promise. */
export async function openUrl(url: string, signal?: AbortSignal): Promise<Readable> {
  const kind = urlKind(url);
  if (kind === 'file') return createReadStream(localPathOf(url), { highWaterMark: 1 << 20 });
  if (kind === 'http') {
    const res = await fetch(url, { signal });
    if (!res.ok || !res.body) {
      throw new Error(`HTTP ${res.status} ${res.statusText} for ${url}`);
    }
    return Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>);
  }
  const command = url.slice(5);
  const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-400);
  });
  const onAbort = () => child.kill('SIGTERM');
  signal?.addEventListener('abort', onAbort, { once: true });
  child.stdout.pipe(out, { end: false });
  let stdoutEnded = false;
  let exit: { code: number | null; sig: NodeJS.Signals | null } | null = null;
  const finish = () => {
    if (!stdoutEnded || !exit) return;
    signal?.removeEventListener('abort', onAbort);
    if (exit.code === 0) out.end();
    else out.destroy(new Error(`pipe command exited with ${exit.code ?? exit.sig}: ${command}${stderr ? ` (${stderr.trim()})` : ''}`));
  };
  child.stdout.on('end', () => {
    stdoutEnded = true;
    finish();
  });
  child.on('close', (code, sig) => {
    exit = { code, sig };
    stdoutEnded = true;
    finish();
  });
  child.on('error', (e) => out.destroy(new Error(`pipe command failed to start: ${command} (${e.message})`)));
  out.on('close', () => {
    if (!exit) child.kill('SIGTERM');
  });
  return out;
}
