import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ringChunks } from '../../src/distributed/ring-chunks.js';

/** Where each frame sits in the end-to-end array, as [start, end) pairs per segment. */
function layout(parts: Float32Array[], segments: Float32Array[][]): [number, number][][] {
  const starts = new Map<ArrayBufferLike, number>();
  let o = 0;
  for (const p of parts) {
    starts.set(p.buffer, o - p.byteOffset / 4);
    o += p.length;
  }
  return segments.map((s) => s.map((f) => [starts.get(f.buffer)! + f.byteOffset / 4, starts.get(f.buffer)! + f.byteOffset / 4 + f.length]));
}

test('one part: equal segments cut into whole chunks from each segment start', () => {
  const parts = [new Float32Array(10)];
  assert.deepEqual(layout(parts, ringChunks(parts, 3, 2)), [
    [[0, 2], [2, 3]],
    [[3, 5], [5, 6]],
    [[6, 8], [8, 10]],
  ]);
});

test('several parts: frames cover the whole in order, never cross a part, segments stay balanced', () => {
  const parts = [7, 0, 1, 12, 3, 0].map((n) => new Float32Array(n));
  for (const n of [1, 2, 3, 4, 5]) {
    const segs = ringChunks(parts, n, 4);
    assert.equal(segs.length, n);
    const flat = layout(parts, segs).flat();
    let next = 0;
    for (const [a, b] of flat) {
      assert.equal(a, next, `n=${n}: frames are contiguous`);
      assert.ok(b - a >= 1 && b - a <= 4, `n=${n}: frame of ${b - a}`);
      next = b;
    }
    assert.equal(next, 23);
    for (const f of segs.flat()) assert.ok(parts.some((p) => p.buffer === f.buffer), 'a frame is a view of one part');
    const sizes = segs.map((s) => s.reduce((a, f) => a + f.length, 0));
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `n=${n}: segment sizes ${sizes}`);
  }
});

test('fewer values than segments, and no values: empty segments', () => {
  assert.deepEqual(ringChunks([new Float32Array(1)], 3, 8).map((s) => s.length), [0, 0, 1]);
  assert.deepEqual(ringChunks([], 2, 8), [[], []]);
  assert.throws(() => ringChunks([], 0, 8), /0 segments/);
});
