/**
 * webdataset's sample-level `shuffle(bufsize, initial)`: a buffer is filled to `initial` items, then
 * every new item swaps with a random buffered one which is emitted; the rest drain at the end. Seeded,
 * so a worker's order is reproducible (OpenCLIP leaves this one unseeded).
 */
import type { Rng } from '@openclip/engine/rng';

/** OpenCLIP's defaults, overridable with the same `OPENCLIP_WDS_*` environment variables. */
export function sampleShuffleSizes(): { size: number; initial: number } {
  const num = (name: string, dflt: number) => {
    const v = process.env[name];
    if (v === undefined || v === '') return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got '${v}'`);
    return n;
  };
  return { size: num('OPENCLIP_WDS_SAMPLE_SHUFFLE_SIZE', 5000), initial: num('OPENCLIP_WDS_SAMPLE_SHUFFLE_INITIAL', 1000) };
}

export async function* shuffleBuffer<T>(src: AsyncIterable<T>, size: number, initial: number, rng: Rng): AsyncGenerator<T> {
  if (size <= 1) {
    yield* src;
    return;
  }
  const start = Math.min(Math.max(initial, 1), size);
  const buf: T[] = [];
  for await (const item of src) {
    if (buf.length < start) {
      buf.push(item);
      continue;
    }
    if (buf.length < size) {
      buf.push(item);
      const k = rng.randint(buf.length);
      const out = buf[k];
      buf[k] = buf[buf.length - 1];
      buf.pop();
      yield out;
      continue;
    }
    const k = rng.randint(buf.length);
    const out = buf[k];
    buf[k] = item;
    yield out;
  }
  while (buf.length) {
    const k = rng.randint(buf.length);
    const out = buf[k];
    buf[k] = buf[buf.length - 1];
    buf.pop();
    yield out;
  }
}
