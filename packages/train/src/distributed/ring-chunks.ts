/**
 * How a ring all-reduce cuts its data: `parts` are taken as one array laid end to end, cut into
 * `n` segments of (almost) equal length, one per rank, and each segment into frames of at most
 * `chunk` values that never cross from one part into the next. The result depends only on the
 * parts' lengths, so ranks that pass parts of the same lengths cut them the same way.
 */
export function ringChunks(parts: readonly Float32Array[], n: number, chunk: number): Float32Array[][] {
  if (!Number.isInteger(n) || n < 1) throw new Error(`ringChunks: ${n} segments`);
  if (!Number.isInteger(chunk) || chunk < 1) throw new Error(`ringChunks: chunks of ${chunk} values`);
  const total = parts.reduce((a, p) => a + p.length, 0);
  const segments: Float32Array[][] = [];
  let p = 0;
  let at = 0;
  for (let j = 0; j < n; j++) {
    let left = Math.floor(((j + 1) * total) / n) - Math.floor((j * total) / n);
    const frames: Float32Array[] = [];
    while (left > 0) {
      while (at === parts[p].length) {
        p++;
        at = 0;
      }
      const take = Math.min(left, chunk, parts[p].length - at);
      frames.push(parts[p].subarray(at, at + take));
      at += take;
      left -= take;
    }
    segments.push(frames);
  }
  return segments;
}
