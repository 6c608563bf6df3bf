/**
 * Webdataset tar shards read as webdataset / OpenCLIP do: members streamed with tar-stream, grouped
 * into samples by key (`base_plus_ext`: folder + basename up to its FIRST dot; dots in folder names
 * are not separators), a new sample starting when the key changes or a suffix repeats
 * (`group_by_keys_nothrow`); `__meta__` members and non-files are ignored. A shard that cannot be
 * opened or ends mid-member yields an error event instead of killing the run.
 */
import tar from 'tar-stream';
import { openUrl } from './url-opener.js';

/** Image member suffixes in OpenCLIP's priority order (`DEFAULT_IMAGE_KEY = "jpg;png;jpeg;webp"`). */
export const IMAGE_EXTENSIONS = ['jpg', 'png', 'jpeg', 'webp'] as const;

export interface TarMember {
  name: string;
  data: Uint8Array;
}

/** One grouped sample: its key, the shard it came from, and member bytes by lower-cased suffix. */
export interface WdsSample {
  key: string;
  url: string;
  parts: Map<string, Uint8Array>;
}

export type WdsEvent = { kind: 'sample'; sample: WdsSample } | { kind: 'error'; url: string; message: string };

const BASE_PLUS_EXT = /^((?:.*\/|)[^./]+)\.([^/]*)$/;
const META = /(^|\/)__[^/]*__($|\/)/;

/** Splits a member name into (key, suffix) like webdataset's `base_plus_ext`; null when the basename has no dot. */
export function baseAndExt(name: string): [string, string] | null {
  const m = BASE_PLUS_EXT.exec(name);
  return m ? [m[1], m[2]] : null;
}

/** Streams the regular-file members of one tar; read errors (truncation, bad header, I/O) are thrown. */
export async function* tarMembers(url: string, signal?: AbortSignal): AsyncGenerator<TarMember> {
  const input = await openUrl(url, signal);
  const extract = tar.extract();
  input.on('error', (e) => extract.destroy(e));
  input.pipe(extract as unknown as NodeJS.WritableStream);
  try {
    for await (const entry of extract) {
      const chunks: Uint8Array[] = [];
      let size = 0;
      for await (const c of entry as AsyncIterable<Uint8Array>) {
        chunks.push(c);
        size += c.length;
      }
      const type = entry.header.type;
      if (type !== 'file' && type !== 'contiguous-file') continue;
      const data = chunks.length === 1 ? chunks[0] : concat(chunks, size);
      yield { name: entry.header.name, data };
    }
  } finally {
    input.destroy();
    extract.destroy();
  }
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/**
 * The samples of one shard, grouped by key. A read error ends the shard with an error event after
 * the members read completely before it (the member being read when it broke is dropped).
 */
export async function* shardSamples(url: string, signal?: AbortSignal): AsyncGenerator<WdsEvent> {
  let current: WdsSample | null = null;
  try {
    for await (const m of tarMembers(url, signal)) {
      if (META.test(m.name)) continue;
      const split = baseAndExt(m.name);
      if (!split) continue;
      const [key, rawSuffix] = split;
      const suffix = rawSuffix.toLowerCase();
      if (current === null || key !== current.key || current.parts.has(suffix)) {
        if (current && current.parts.size > 0) yield { kind: 'sample', sample: current };
        current = { key, url, parts: new Map() };
      }
      current.parts.set(suffix, m.data);
    }
  } catch (e) {
    if (signal?.aborted) return;
    // Members read completely before the break still form a sample (it may lack parts; filters judge that).
    if (current && current.parts.size > 0) yield { kind: 'sample', sample: current };
    yield { kind: 'error', url, message: (e as Error).message };
    return;
  }
  if (current && current.parts.size > 0) yield { kind: 'sample', sample: current };
}

/** The first image member of a sample in OpenCLIP's suffix priority, with its suffix. */
export function sampleImage(s: WdsSample): { ext: string; data: Uint8Array } | null {
  for (const ext of IMAGE_EXTENSIONS) {
    const d = s.parts.get(ext);
    if (d) return { ext, data: d };
  }
  return null;
}
