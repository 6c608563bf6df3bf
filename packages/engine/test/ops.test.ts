import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine } from '../src/backend.js';
import { tf } from '../src/tf.js';
import * as ops from '../src/ops.js';
import { Rng } from '../src/rng.js';

function rand(rng: Rng, shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(rng.fillNormal(new Float32Array(n)), shape);
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string) {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol * (1 + Math.abs(b[i])), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

for (const backend of ['cpu', 'wasm']) {
  test(`ops on ${backend} agree with plain-JS computations and do not leak`, async () => {
    await initEngine({ backend });
    const rng = new Rng(11);
    const before = tf.memory().numTensors;
    const x = rand(rng, [2, 3, 4]);
    const w = rand(rng, [5, 4]);
    const b = rand(rng, [5]);
    const xs = x.dataSync(), ws = w.dataSync(), bs = b.dataSync();
    // linear
    const y = ops.linear(x, w, b);
    assert.deepEqual(y.shape, [2, 3, 5]);
    const want = new Float32Array(30);
    for (let r = 0; r < 6; r++) for (let o = 0; o < 5; o++) {
      let s = bs[o];
      for (let i = 0; i < 4; i++) s += xs[r * 4 + i] * ws[o * 4 + i];
      want[r * 5 + o] = s;
    }
    close(y.dataSync(), want, 1e-5, 'linear');
    // layerNorm
    const g = rand(rng, [4]), be = rand(rng, [4]);
    const ln = ops.layerNorm(x, g, be, 1e-5);
    const gs = g.dataSync(), bes = be.dataSync();
    const lw = new Float32Array(24);
    for (let r = 0; r < 6; r++) {
      const row = Array.from(xs.slice(r * 4, r * 4 + 4));
      const m = row.reduce((p, q) => p + q, 0) / 4;
      const v = row.reduce((p, q) => p + (q - m) ** 2, 0) / 4;
      for (let i = 0; i < 4; i++) lw[r * 4 + i] = ((row[i] - m) / Math.sqrt(v + 1e-5)) * gs[i] + bes[i];
    }
    close(ln.dataSync(), lw, 1e-5, 'layerNorm');
    // activations
    const erf = (z: number) => { // Abramowitz-Stegun 7.1.26 is too coarse; use a series for |z| small
      let sum = 0, term = z;
      for (let n = 0; n < 60; n++) { sum += term / (2 * n + 1); term *= -z * z / (n + 1); }
      return (2 / Math.sqrt(Math.PI)) * sum;
    };
    const ge = ops.gelu(x), qg = ops.quickGelu(x);
    close(ge.dataSync(), Array.from(xs, (z) => 0.5 * z * (1 + erf(z / Math.SQRT2))), 2e-6, 'gelu');
    close(qg.dataSync(), Array.from(xs, (z) => z / (1 + Math.exp(-1.702 * z))), 1e-6, 'quickGelu');
    tf.dispose([ge, qg]);
    // attention with a causal mask
    const q = rand(rng, [1, 2, 3, 4]), k = rand(rng, [1, 2, 3, 4]), v = rand(rng, [1, 2, 3, 4]);
    const mask = tf.tensor2d([[0, -Infinity, -Infinity], [0, 0, -Infinity], [0, 0, 0]]);
    const att = ops.attention(q, k, v, { mask });
    const qs = q.dataSync(), ks = k.dataSync(), vs = v.dataSync();
    const aw = new Float32Array(24);
    for (let h = 0; h < 2; h++) for (let i = 0; i < 3; i++) {
      const sc = [0, 1, 2].map((j) => j > i ? -Infinity : [0, 1, 2, 3].reduce((s, d) => s + qs[h * 12 + i * 4 + d] * ks[h * 12 + j * 4 + d], 0) / 2);
      const mx = Math.max(...sc);
      const e = sc.map((s) => Math.exp(s - mx));
      const z = e.reduce((p, c) => p + c, 0);
      for (let d = 0; d < 4; d++) aw[h * 12 + i * 4 + d] = e.reduce((s, ej, j) => s + (ej / z) * vs[h * 12 + j * 4 + d], 0);
    }
    close(att.dataSync(), aw, 1e-5, 'attention');
    // gradients flow through every op
    const gradFn = tf.grads((a: tf.Tensor, ww: tf.Tensor) => tf.sum(ops.gelu(ops.layerNorm(ops.linear(a, ww, b), null, null))));
    const [ga, gw] = gradFn([x, w]);
    assert.deepEqual(ga.shape, x.shape);
    assert.deepEqual(gw.shape, w.shape);
    assert.ok(ga.dataSync().every(Number.isFinite) && gw.dataSync().every(Number.isFinite));
    tf.dispose([x, w, b, y, g, be, ln, q, k, v, mask, att, ga, gw]);
    assert.equal(tf.memory().numTensors, before);
  });
}
