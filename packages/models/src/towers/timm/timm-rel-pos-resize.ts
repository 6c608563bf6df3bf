/**
 * timm's `resize_rel_pos_bias_table` for a flat relative-position bias table [(2wh−1)·(2ww−1), H]
 * (Swin's `relative_position_bias_table`), as `set_window_size` applies it when `set_input_size`
 * changes the window (OpenCLIP's `--force-image-size` after loading): the source offsets are
 * spread on a geometric progression whose ratio q makes them reach the target's half-width
 * (bisection on q in [1.01, 1.5] to 1e-6), and every target offset −t..t is interpolated
 * bilinearly between its neighbouring source offsets (clamped at the ends), one head at a time.
 * timm's default path (no scipy).
 */

/** The source offsets of one axis: −d_k … −d_1, 0, d_1 … d_k with d_i = 1 + q + … + q^(i−1). */
function sourceOffsets(src: number, dst: number): number[] {
  const half = Math.floor(src / 2);
  const gp = (r: number, n: number) => (1 - r ** n) / (1 - r);
  let left = 1.01, right = 1.5;
  while (right - left > 1e-6) {
    const q = (left + right) / 2;
    if (gp(q, half) > Math.floor(dst / 2)) right = q;
    else left = q;
  }
  const q = (left + right) / 2;
  const dis: number[] = [];
  let cur = 1;
  for (let i = 0; i < half; i++) {
    dis.push(cur);
    cur += q ** (i + 1);
  }
  return [...dis.map((d) => -d).reverse(), 0, ...dis];
}

/** For each target offset −t..t: the neighbouring source indices and their weights (linear, clamped). */
function weights(points: number[], dst: number): { lo: number; hi: number; wlo: number; whi: number }[] {
  const t = Math.floor(dst / 2);
  const out: { lo: number; hi: number; wlo: number; whi: number }[] = [];
  for (let v = -t; v <= t; v++) {
    let hi = points.findIndex((p) => p >= v);
    if (hi < 0) hi = points.length - 1;
    const lo = Math.max(0, hi - 1);
    let dl = Math.max(0, v - points[lo]), dr = Math.max(0, points[hi] - v);
    if (dl === 0 && dr === 0) dl = dr = 1;
    // value = (v[lo]·dr + v[hi]·dl) / (dl + dr)
    out.push({ lo, hi, wlo: dr / (dl + dr), whi: dl / (dl + dr) });
  }
  return out;
}

/**
 * Resamples `table` [s², heads] (a square source window's table, s = 2·window − 1) to the window
 * `dst` ([wh, ww]): the result is [(2wh−1)·(2ww−1), heads], row-major over (dy, dx).
 */
export function resizeRelPosBiasTable(table: Float32Array, rows: number, heads: number, dst: [number, number], what: string): Float32Array {
  const side = Math.round(Math.sqrt(rows));
  if (side * side !== rows || table.length !== rows * heads) {
    throw new Error(`${what}: relative position bias table [${rows}, ${heads}] is not a square window's table`);
  }
  const dh = 2 * dst[0] - 1, dw = 2 * dst[1] - 1;
  if (side === dh && side === dw) return table;
  const wy = weights(sourceOffsets(side, dh), dh);
  const wx = weights(sourceOffsets(side, dw), dw);
  const out = new Float32Array(dh * dw * heads);
  for (let i = 0; i < dh; i++) {
    const a = wy[i];
    for (let j = 0; j < dw; j++) {
      const b = wx[j];
      for (let h = 0; h < heads; h++) {
        const at = (r: number, c: number) => table[(r * side + c) * heads + h];
        out[(i * dw + j) * heads + h] = a.wlo * (b.wlo * at(a.lo, b.lo) + b.whi * at(a.lo, b.hi)) + a.whi * (b.wlo * at(a.hi, b.lo) + b.whi * at(a.hi, b.hi));
      }
    }
  }
  return out;
}
