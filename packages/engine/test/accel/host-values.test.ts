import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine } from '../../src/backend.js';
import { tf } from '../../src/tf.js';
import { readOnlyValues, readValuesInto, tensorFromValues, writableValues } from '../../src/accel/host-values.js';

test('native backend: reading into a caller array keeps a kernel output writable in place; dataSync does not', async () => {
  await initEngine({ backend: 'native' });
  const a = tf.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  const b = tf.tensor([10, 20, 30, 40, 50, 60], [2, 3]);
  const t = tf.mul(a, b); // the backend's own array
  const dst = new Float32Array(8).fill(-1);
  readValuesInto(t, dst, 1);
  assert.deepEqual(Array.from(dst), [-1, 10, 40, 90, 160, 250, 360, -1]);
  assert.deepEqual(Array.from(readOnlyValues(t)), [10, 40, 90, 160, 250, 360]);
  const own = writableValues(t);
  assert.ok(own, 'a fresh kernel output is writable');
  own.set([1, 1, 1, 2, 2, 2]);
  assert.deepEqual(Array.from(t.dataSync()), [1, 1, 1, 2, 2, 2], 'the write is the tensor');
  assert.equal(writableValues(t), null, 'an array handed out by dataSync is never written');
  assert.throws(() => readValuesInto(t, new Float32Array(4)), /6 values do not fit at 0 in an array of 4/);
  tf.dispose([a, b, t]);
});

test('native backend: arrays a user passed in, or that two tensors share, are not writable', async () => {
  await initEngine({ backend: 'native' });
  const user = tf.tensor(new Float32Array([1, 2, 3, 4]), [4]);
  assert.equal(writableValues(user), null);
  const t = tf.add(user, user);
  const r = tf.reshape(t, [2, 2]); // the same array under a second tensor
  assert.equal(writableValues(t), null);
  assert.equal(writableValues(r), null);
  tf.dispose([user, t, r]);
  assert.throws(() => writableValues(tf.tensor([1], [1], 'int32')), /expected a float32 tensor, got int32/);
});

test('tensorFromValues copies its input, on the native and cpu backends', async () => {
  for (const backend of ['native', 'cpu'] as const) {
    await initEngine({ backend, ...(backend === 'cpu' ? { accel: 'none' as const } : {}) });
    const src = new Float32Array([1, 2, 3, 4, 5, 6]);
    const t = tensorFromValues(src, [3, 2]);
    src.fill(0);
    assert.deepEqual(t.shape, [3, 2]);
    assert.deepEqual(Array.from(t.dataSync()), [1, 2, 3, 4, 5, 6], backend);
    t.dispose();
    assert.throws(() => tensorFromValues(src, [4, 2]), /6 values for shape \[4, 2\]/);
  }
});
