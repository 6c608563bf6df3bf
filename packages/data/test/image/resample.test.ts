import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '@openclip/engine/rng';
import { nativeImageStatus } from '../../src/image/native.js';
import { nearestIndices, premultiply, resampleCoeffs, resampleU8, unpremultiplyInPlace } from '../../src/image/resample.js';

test('coefficients: antialias support grows with the downscale factor and weights sum to one', () => {
  const up = resampleCoeffs(10, 40, 'bicubic');
  assert.equal(up.ksize, 5); // support 2 -> ceil(2) * 2 + 1
  const down = resampleCoeffs(500, 224, 'bicubic');
  assert.equal(down.ksize, Math.ceil(2 * (500 / 224)) * 2 + 1);
  for (const c of [up, down, resampleCoeffs(375, 224, 'bilinear')]) {
    for (let i = 0; i < c.outSize; i++) {
      let s = 0;
      let f = 0;
      for (let k = 0; k < c.bounds[i * 2 + 1]; k++) {
        s += c.weights[i * c.ksize + k];
        f += c.fixed[i * c.ksize + k];
      }
      assert.ok(Math.abs(s - 1) < 1e-12);
      assert.ok(Math.abs(f - (1 << 22)) <= c.ksize, `fixed-point weights of pixel ${i} sum to ${f}`);
    }
  }
  assert.equal(resampleCoeffs(500, 224, 'bicubic'), down, 'tables are cached per (in, out, filter)');
});

test('a region of the output equals the same window of the full resize', () => {
  const rng = new Rng(3);
  const w = 53;
  const h = 41;
  const src = new Uint8Array(w * h * 3);
  for (let i = 0; i < src.length; i++) src[i] = rng.randint(256);
  for (const [ow, oh] of [[29, 17], [80, 41], [53, 90]]) {
    const full = resampleU8(src, w, h, 3, ow, oh, 'bicubic');
    const r = { left: 5, top: 3, width: ow - 9, height: oh - 4 };
    const part = resampleU8(src, w, h, 3, ow, oh, 'bicubic', r);
    for (let y = 0; y < r.height; y++) {
      for (let x = 0; x < r.width * 3; x++) {
        assert.equal(part[y * r.width * 3 + x], full[((y + r.top) * ow + r.left) * 3 + x]);
      }
    }
  }
  assert.throws(() => resampleU8(src, w, h, 3, 10, 10, 'bicubic', { left: 5, top: 0, width: 6, height: 1 }), /outside the 10x10 output/);
});

test('constant images stay constant under bicubic down/up-scaling', () => {
  const src = new Uint8Array(31 * 17).fill(200);
  for (const out of [resampleU8(src, 31, 17, 1, 7, 40, 'bicubic'), resampleU8(src, 31, 17, 1, 90, 5, 'bilinear')]) {
    assert.ok(out.every((v) => v === 200));
  }
});

test('nearest source indices accumulate s = in/out from s/2 in float64', () => {
  assert.deepEqual([...nearestIndices(4, 8)], [0, 0, 1, 1, 2, 2, 3, 3]);
  assert.deepEqual([...nearestIndices(48, 64)].slice(0, 6), [0, 1, 1, 2, 3, 4]);
  const s = 40 / 64;
  let xo = s / 2;
  const idx = nearestIndices(40, 64);
  for (let i = 0; i < 64; i++, xo += s) assert.equal(idx[i], Math.trunc(xo));
});

test('premultiply / unpremultiply follow Pillow formulas', () => {
  const px = new Uint8Array([200, 100, 50, 128, 10, 20, 30, 0, 1, 2, 3, 255]);
  const pre = premultiply(px, 4);
  const mul = (c: number, a: number) => { const t = c * a + 128; return ((t >> 8) + t) >> 8; };
  assert.deepEqual([...pre.subarray(0, 4)], [mul(200, 128), mul(100, 128), mul(50, 128), 128]);
  assert.deepEqual([...pre.subarray(4, 8)], [0, 0, 0, 0]);
  assert.deepEqual([...pre.subarray(8)], [1, 2, 3, 255]);
  const back = unpremultiplyInPlace(pre.slice(), 4);
  assert.deepEqual([...back.subarray(0, 3)], [mul(200, 128), mul(100, 128), mul(50, 128)].map((c) => Math.min(255, Math.floor((255 * c) / 128))));
});

test('resampleU8 writes into a given dst (TypeScript and native kernels) and checks its length', () => {
  const rng = new Rng(8);
  const src = new Uint8Array(30 * 20 * 3).map(() => rng.randint(256));
  const region = { left: 2, top: 1, width: 9, height: 7 };
  const want = resampleU8(src, 30, 20, 3, 13, 11, 'bicubic', region, 'js');
  for (const kernels of nativeImageStatus().addon ? (['js', 'native'] as const) : (['js'] as const)) {
    const dst = new Uint8Array(9 * 7 * 3);
    assert.equal(resampleU8(src, 30, 20, 3, 13, 11, 'bicubic', region, kernels, dst), dst, kernels);
    assert.deepEqual([...dst], [...want], kernels);
    assert.throws(() => resampleU8(src, 30, 20, 3, 13, 11, 'bicubic', region, kernels, new Uint8Array(10)), /dst holds 10 bytes, the 9x7x3 region needs 189/);
  }
});
