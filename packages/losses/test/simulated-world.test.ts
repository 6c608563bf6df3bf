import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '@openclip/engine';
import { SingleProcessCollective } from '../src/collective.js';
import { allGatherWithGrad, exchangeBidirWithGrad } from '../src/distributed-grad.js';
import { SimulatedWorld } from '../test-support/simulated-world.js';

const values = async (t: tf.Tensor) => {
  const v = Array.from(await t.data());
  t.dispose();
  return v;
};

test('simulated collectives: allGather, allReduce (every op), broadcast, barrier', async () => {
  await initEngine({ backend: 'cpu' });
  const before = tf.memory().numTensors;
  const out = await new SimulatedWorld(3).run(async (c) => {
    const mine = tf.tensor2d([[c.rank, 10 * c.rank]]);
    const gathered = await values(await c.allGather(mine));
    const sum = await values(await c.allReduce(mine, 'sum'));
    const mean = await values(await c.allReduce(mine, 'mean'));
    const max = await values(await c.allReduce(mine, 'max'));
    const min = await values(await c.allReduce(mine, 'min'));
    await c.barrier();
    const b = await values(await c.broadcast(mine, 1));
    mine.dispose();
    return { gathered, sum, mean, max, min, b };
  });
  for (const o of out) {
    assert.deepEqual(o.gathered, [0, 0, 1, 10, 2, 20]);
    assert.deepEqual(o.sum, [3, 30]);
    assert.deepEqual(o.mean, [1, 10]);
    assert.deepEqual(o.max, [2, 20]);
    assert.deepEqual(o.min, [0, 0]);
    assert.deepEqual(o.b, [1, 10]);
  }
  assert.equal(tf.memory().numTensors, before);
});

test('simulated exchanges follow OpenCLIP neighbour_exchange(_bidir) and send gradients back', async () => {
  await initEngine({ backend: 'cpu' });
  for (const size of [2, 3, 5]) {
    const out = await new SimulatedWorld(size).run(async (c) => {
      const left = (c.rank - 1 + size) % size;
      const right = (c.rank + 1) % size;
      const fromLeft = await values(await c.exchange(left, right, tf.scalar(c.rank)));
      const ex = await exchangeBidirWithGrad(c, left, right, tf.scalar(100 + c.rank), tf.scalar(200 + c.rank));
      const got = [await values(ex.value[0]), await values(ex.value[1])];
      // Gradient of what came from the right is tagged 1000+rank, from the left 2000+rank.
      const [gToLeft, gToRight] = await ex.backward([tf.scalar(1000 + c.rank), tf.scalar(2000 + c.rank)]);
      return { fromLeft, got, gToLeft: await values(gToLeft), gToRight: await values(gToRight) };
    });
    out.forEach((o, r) => {
      const left = (r - 1 + size) % size;
      const right = (r + 1) % size;
      assert.deepEqual(o.fromLeft, [left], `size ${size} rank ${r} exchange`);
      // [fromRight, fromLeft]: the right neighbour's toLeft and the left neighbour's toRight.
      assert.deepEqual(o.got, [[100 + right], [200 + left]], `size ${size} rank ${r} bidir`);
      // What this rank sent left came back from the left neighbour as that rank's fromRight grad.
      assert.deepEqual(o.gToLeft, [1000 + left], `size ${size} rank ${r} grad of toLeft`);
      assert.deepEqual(o.gToRight, [2000 + right], `size ${size} rank ${r} grad of toRight`);
    });
  }
});

test('allGather with gradient sums every rank\'s gradient of the gathered rows', async () => {
  await initEngine({ backend: 'cpu' });
  const out = await new SimulatedWorld(2).run(async (c) => {
    const g = await allGatherWithGrad(c, tf.tensor1d([c.rank, c.rank]));
    const grad = await g.backward(tf.tensor1d([1, 2, 3, 4].map((v) => v * (c.rank + 1))));
    g.value.dispose();
    return values(grad);
  });
  // rank 0 owns rows 0..1: (1 + 2), (2 + 4); rank 1 rows 2..3: (3 + 6), (4 + 8)
  assert.deepEqual(out, [[3, 6], [9, 12]]);
});

test('mismatched collectives and deadlocks fail instead of hanging', async () => {
  await initEngine({ backend: 'cpu' });
  await assert.rejects(
    new SimulatedWorld(2).run(async (c) => {
      const t = tf.scalar(1);
      if (c.rank === 0) await c.allGather(t);
      else await c.allReduce(t);
    }),
    /collective #0: rank 1 called allReduce.*another rank called allGather/,
  );
  await assert.rejects(
    new SimulatedWorld(2).run(async (c) => {
      if (c.rank === 0) await c.barrier();
    }),
    /deadlock: rank 0 waits in barrier/,
  );
  await assert.rejects(
    new SimulatedWorld(2).run(async (c) => {
      await c.exchange(c.rank, c.rank, tf.scalar(0)).then((t) => t.dispose());
      await c.exchange((c.rank + 1) % 2, c.rank, tf.scalar(0));
    }),
    /deadlock: rank 0 waits in recv from rank 1; rank 1 waits in recv from rank 0/,
  );
  await assert.rejects(new SimulatedWorld(2).run(async (c) => c.broadcast(tf.scalar(0), 2)), /broadcast root: rank 2 is outside the world \[0, 2\)/);
});

test('the single-process collective is the identity', async () => {
  await initEngine({ backend: 'cpu' });
  const c = new SingleProcessCollective();
  const t = tf.tensor1d([1, 2]);
  assert.deepEqual(await values(await c.allGather(t)), [1, 2]);
  assert.deepEqual(await values(await c.allReduce(t, 'mean')), [1, 2]);
  assert.deepEqual(await values(await c.broadcast(t, 0)), [1, 2]);
  const [a, b] = await c.exchangeBidir(0, 0, t, tf.tensor1d([3]));
  assert.deepEqual([await values(a), await values(b)], [[1, 2], [3]]);
  await assert.rejects(c.allReduce(t, 'prod' as never), /unknown op 'prod'/);
  await assert.rejects(c.exchange(0, 1, t), /exchange toRank: rank 1 is outside the world \[0, 1\)/);
  t.dispose();
});
