// FloatSink: a body delivered in chunks cut at any byte, from buffers at any alignment, gives the
// same array as combining the whole body at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FloatSink, type SinkOp } from '../../src/distributed/float-sink.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

test('bytes split anywhere and unaligned are combined as whole float32 values (copy, sum, max, min)', () => {
  const rand = lcg(7);
  for (const op of ['copy', 'sum', 'max', 'min'] as SinkOp[]) {
    for (const n of [1, 3, 1000, 70_000]) {
      const base = Float32Array.from({ length: n }, () => rand() * 200 - 100);
      const body = Float32Array.from({ length: n }, () => rand() * 200 - 100);
      const want = base.map((b, i) => (op === 'copy' ? body[i] : op === 'sum' ? Math.fround(b + body[i]) : op === 'max' ? Math.max(b, body[i]) : Math.min(b, body[i])));
      const dest = Float32Array.from(base);
      const sink = new FloatSink(dest, op);
      const bytes = new Uint8Array(body.buffer);
      let at = 0;
      while (at < bytes.length) {
        const len = Math.min(bytes.length - at, 1 + Math.floor(rand() * (rand() < 0.2 ? 300_000 : 13)));
        const pad = Math.floor(rand() * 4); // the chunk sits at an arbitrary offset of its own buffer
        const chunk = new Uint8Array(len + pad + 3);
        chunk.set(bytes.subarray(at, at + len), pad);
        sink.write(chunk, pad, pad + len);
        at += len;
      }
      assert.equal(sink.done, true, `${op} ${n}: done`);
      assert.deepEqual(dest, want, `${op} over ${n} values`);
    }
  }
});
