import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine } from '../src/backend.js';
import { tf } from '../src/tf.js';
import { Rng } from '../src/rng.js';
import type { Tensor } from '@tensorflow/tfjs-core';

type Grads = (f: () => Tensor, xs: Tensor[], dy?: Tensor, allowNoGradients?: boolean) => { value: Tensor; grads: Tensor[] };
/** TensorFlow.js's own walk (the prototype's method, which installEagerBackprop shadows on the instance). */
function stockGradients(f: () => Tensor, xs: Tensor[]): { value: Tensor; grads: Tensor[] } {
  const engine = tf.engine();
  return (Object.getPrototypeOf(engine).gradients as Grads).call(engine, f, xs, undefined, true);
}
function eagerGradients(f: () => Tensor, xs: Tensor[]): { value: Tensor; grads: Tensor[] } {
  return (tf.engine() as unknown as { gradients: Grads }).gradients(f, xs, undefined, true);
}

function rand(rng: Rng, shape: number[]): tf.Tensor {
  return tf.tensor(rng.fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1))), shape);
}

type OneInput = (x: Tensor, save: (t: Tensor[]) => void) => { value: Tensor; gradFunc: (dy: Tensor, saved: Tensor[]) => Tensor };
/** tf.customGrad for a one-input op (its typing takes the inputs and save function as one rest list). */
const custom = (f: OneInput): ((x: Tensor) => Tensor) => tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as (x: Tensor) => Tensor;

for (const backend of ['cpu', 'native']) {
  test(`eager backprop on ${backend} gives TensorFlow.js's gradients exactly and leaks nothing`, async () => {
    await initEngine({ backend });
    assert.notEqual((tf.engine() as unknown as { gradients: Grads }).gradients, Object.getPrototypeOf(tf.engine()).gradients, 'initEngine installs the eager walk');
    const rng = new Rng(3);
    const w = rand(rng, [6, 6]), b = rand(rng, [6]), emb = rand(rng, [10, 6]);
    const ids = tf.tensor1d([1, 4, 4, 9], 'int32');
    // a custom op whose gradient hands dy straight back, and one that returns a saved tensor
    const passThrough = custom((x: Tensor, save: (t: Tensor[]) => void) => {
      save([x]);
      return { value: tf.mul(x, 1), gradFunc: (dy: Tensor) => dy };
    });
    const savedBack = custom((x: Tensor, save: (t: Tensor[]) => void) => {
      const two = tf.fill(x.shape, 2);
      save([two]);
      return { value: tf.mul(x, two), gradFunc: (_dy: Tensor, saved: Tensor[]) => saved[0] };
    });
    const f = (): Tensor => {
      const x = tf.gather(emb, ids); // int input, several uses of one row
      let h = tf.tanh(tf.add(tf.matMul(x, w), b));
      const [p, q] = tf.split(h, 2, 1); // a node with two outputs
      h = tf.concat([tf.mul(p, q), passThrough(p), savedBack(q)], 1);
      h = tf.add(h.slice([0, 0], [4, 6]), tf.matMul(h.slice([0, 3], [4, 6]), w)); // w used twice
      return tf.sum(tf.square(h));
    };
    const before = tf.memory().numTensors;
    const stock = stockGradients(f, [w, b, emb]);
    const afterStock = tf.memory().numTensors;
    const eager = eagerGradients(f, [w, b, emb]);
    assert.equal(tf.memory().numTensors - afterStock, afterStock - before, 'both walks leave only the value and the gradients');
    assert.equal(eager.value.dataSync()[0], stock.value.dataSync()[0]);
    for (let i = 0; i < 3; i++) assert.deepEqual(eager.grads[i].dataSync(), stock.grads[i].dataSync(), `gradient ${i}`);
    tf.dispose([stock.value, eager.value, ...stock.grads, ...eager.grads]);
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([w, b, emb, ids]);
  });
}

test('eager backprop frees activations and gradients as it walks back', async () => {
  await initEngine({ backend: 'cpu' });
  const rng = new Rng(5);
  const depth = 24;
  const ws = Array.from({ length: depth }, () => tf.mul(rand(rng, [64, 64]), 0.1));
  const x0 = rand(rng, [32, 64]);
  let peak = 0;
  // an identity whose gradient records how many bytes are alive at that point of the walk
  const probe = custom((x: Tensor) => ({
    value: tf.mul(x, 1),
    gradFunc: (dy: Tensor) => {
      peak = Math.max(peak, tf.memory().numBytes);
      return dy;
    },
  }));
  const f = (): Tensor => {
    let h = x0;
    for (const w of ws) h = probe(tf.tanh(tf.matMul(h, w)));
    return tf.sum(h);
  };
  const peakOf = (walk: typeof stockGradients): number => {
    peak = 0;
    const r = walk(f, ws);
    tf.dispose([r.value, ...r.grads]);
    return peak;
  };
  const base = tf.memory().numBytes;
  const stock = peakOf(stockGradients) - base;
  const eager = peakOf(eagerGradients) - base;
  // stock keeps every layer's activations and gradients to the end; the eager walk only those still ahead
  assert.ok(eager < stock * 0.75, `eager walk peak ${eager} B, TensorFlow.js's ${stock} B`);
  tf.dispose([...ws, x0]);
});

test('higher-order gradients still work under the eager walk', async () => {
  await initEngine({ backend: 'cpu' });
  const x = tf.tensor1d([0.5, -1, 2]);
  const d2 = tf.grad((v: Tensor) => tf.grad((u: Tensor) => tf.sum(tf.pow(u, 3)))(v))(x); // 6x
  assert.deepEqual([...d2.dataSync()], [3, -6, 12]);
  tf.dispose([x, d2]);
});
