import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '@openclip/engine';
import { clipCoefficient, clipGradNorm, gradNorm, scaleGradients } from '../../src/optim/grad-clip.js';

test('clipGradNorm follows torch.nn.utils.clip_grad_norm_', async () => {
  await initEngine({ backend: 'cpu' });
  const a = tf.tensor2d([[3, 0], [0, 4]]);
  const b = tf.tensor1d([12]);
  const grads = new Map<string, tf.Tensor>([['a', a], ['b', b]]);
  // ‖(‖a‖, ‖b‖)‖ = ‖(5, 12)‖ = 13
  assert.ok(Math.abs(gradNorm(grads.values()) - 13) < 1e-6);
  assert.equal(gradNorm(grads.values(), Infinity), 12);
  const { totalNorm, scale } = clipGradNorm(grads, 6.5);
  assert.ok(Math.abs(totalNorm - 13) < 1e-6);
  assert.ok(Math.abs(scale - 6.5 / (13 + 1e-6)) < 1e-12);
  assert.equal(clipGradNorm(grads, 100).scale, 1, 'never scales up');
  assert.equal(clipCoefficient(0, 1), 1);
  const clipped = scaleGradients(grads, scale);
  assert.ok(Math.abs(gradNorm(clipped.values()) - 6.5) < 1e-5);
  assert.throws(() => clipGradNorm(grads, 0), /--grad-clip-norm must be a positive number/);
  tf.dispose([a, b, ...clipped.values()]);
});
