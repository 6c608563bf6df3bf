import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, Rng, tf } from '@openclip/engine';
import type { Collective } from '../src/collective.js';
import { collectiveFromTransport } from '../src/collective-from-transport.js';
import type { ArrayTransport } from '../src/collective-from-transport.js';
import { ClipLoss } from '../src/clip-loss.js';
import { SigLipLoss } from '../src/siglip-loss.js';
import { SimulatedWorld } from '../test-support/simulated-world.js';
import { randn, take } from '../test-support/loss-fixtures.js';

/** A Float32Array transport for tests, carried by a simulated world's collective. */
function arrayTransport(c: Collective): ArrayTransport {
  /** Runs one collective on a temporary tensor holding `d`, returns the result's values. */
  const via = async (d: Float32Array, op: (t: tf.Tensor) => Promise<tf.Tensor>) => {
    const t = tf.tensor1d(d);
    try {
      return Float32Array.from(take(await op(t)));
    } finally {
      t.dispose();
    }
  };
  return {
    rank: c.rank,
    worldSize: c.worldSize,
    allReduce: (d, op) => via(d, (t) => c.allReduce(t, op)),
    allGather: async (d) => {
      const all = await via(d, (t) => c.allGather(t));
      return Array.from({ length: c.worldSize }, (_, r) => all.slice(r * d.length, (r + 1) * d.length));
    },
    broadcast: (d, root) => via(d ?? new Float32Array(0), (t) => c.broadcast(t, root)),
    barrier: () => c.barrier(),
    exchange: (from, to, d) => via(d, (t) => c.exchange(from, to, t)),
  };
}

test('losses over a Float32Array transport give exactly the simulated-collective results', async () => {
  await initEngine({ backend: 'cpu' });
  const before = tf.memory().numTensors;
  const world = 3;
  const n = 2;
  const rng = new Rng(8);
  const img = randn(rng, [world * n, 5]);
  const txt = randn(rng, [world * n, 5]);
  const imgData = img.dataSync() as Float32Array;
  const txtData = txt.dataSync() as Float32Array;
  const s = tf.scalar(4);
  const b = tf.scalar(-1);
  const run = (wrap: boolean) =>
    new SimulatedWorld(world).run(async (sim) => {
      const c = wrap ? collectiveFromTransport(arrayTransport(sim)) : sim;
      const i = tf.tensor(imgData.slice(c.rank * n * 5, (c.rank + 1) * n * 5), [n, 5]);
      const t = tf.tensor(txtData.slice(c.rank * n * 5, (c.rank + 1) * n * 5), [n, 5]);
      const out: number[][] = [];
      for (const loss of [new SigLipLoss({ collective: c }), new ClipLoss({ collective: c, localLoss: true, gatherWithGrad: true })]) {
        const r = await loss.lossAndGrads({ image_features: i, text_features: t, logit_scale: s, logit_bias: b });
        out.push([...take(r.total), ...take(r.grads.image_features!), ...take(r.grads.text_features!), ...take(r.grads.logit_scale!), ...take(r.grads.logit_bias!)]);
        tf.dispose(Object.values(r.losses));
      }
      tf.dispose([i, t]);
      return out;
    });
  assert.deepEqual(await run(true), await run(false));
  const bc = await new SimulatedWorld(2).run(async (sim) => {
    const c = collectiveFromTransport(arrayTransport(sim));
    const x = tf.tensor2d([[c.rank + 1, 2]]);
    const got = take(await c.broadcast(x, 1));
    x.dispose();
    const ints = tf.tensor1d([1], 'int32');
    await assert.rejects(c.allGather(ints), /only float32 tensors travel over the transport, got int32/);
    ints.dispose();
    return Array.from(got);
  });
  assert.deepEqual(bc, [[2, 2], [2, 2]]);
  tf.dispose([img, txt, s, b]);
  assert.equal(tf.memory().numTensors, before);
});
