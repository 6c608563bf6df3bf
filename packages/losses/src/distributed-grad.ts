/**
 * The autograd side of OpenCLIP's differentiable collectives (`torch.distributed.nn.all_gather`,
 * `all_reduce`, and loss.py's `NeighbourExchange` / `NeighbourExchangeBidir` autograd
 * Functions), written as explicit forward/backward pairs: TensorFlow.js tapes are synchronous,
 * so a loss computes its local gradients first and then runs each collective's backward.
 */
import { tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import type { Collective } from './collective.js';

/**
 * all_gather with gradient: the backward sums every rank's gradient of the gathered tensor
 * (an all-reduce) and keeps this rank's rows.
 */
export async function allGatherWithGrad(c: Collective, t: Tensor): Promise<{ value: Tensor; backward(grad: Tensor): Promise<Tensor> }> {
  const value = await c.allGather(t);
  const rows = t.shape[0] ?? 1;
  return {
    value,
    async backward(grad: Tensor): Promise<Tensor> {
      const summed = await c.allReduce(grad, 'sum');
      const mine = tf.slice(summed, c.rank * rows, rows);
      summed.dispose();
      return t.rank === 0 ? tf.tidy(() => tf.reshape(mine, [])) : mine;
    },
  };
}

/** all_reduce(sum) with gradient: the backward is again an all-reduce(sum). */
export async function allReduceWithGrad(c: Collective, t: Tensor): Promise<{ value: Tensor; backward(grad: Tensor): Promise<Tensor> }> {
  const value = await c.allReduce(t, 'sum');
  return { value, backward: (grad: Tensor) => c.allReduce(grad, 'sum') };
}

/** neighbour_exchange with gradient: the gradient travels back the way the tensor came. */
export async function exchangeWithGrad(
  c: Collective,
  fromRank: number,
  toRank: number,
  t: Tensor,
): Promise<{ value: Tensor; backward(grad: Tensor): Promise<Tensor> }> {
  const value = await c.exchange(fromRank, toRank, t);
  return { value, backward: (grad: Tensor) => c.exchange(toRank, fromRank, grad) };
}

/**
 * neighbour_exchange_bidir with gradient. `value` is `[fromRight, fromLeft]`; `backward` takes
 * their gradients in the same order and resolves to `[grad of toLeft, grad of toRight]`.
 */
export async function exchangeBidirWithGrad(
  c: Collective,
  leftRank: number,
  rightRank: number,
  toLeft: Tensor,
  toRight: Tensor,
): Promise<{ value: [Tensor, Tensor]; backward(grads: [Tensor, Tensor]): Promise<[Tensor, Tensor]> }> {
  const value = await c.exchangeBidir(leftRank, rightRank, toLeft, toRight);
  return {
    value,
    // Reversed roles: the gradient of what came from the right goes back to the right.
    backward: ([gFromRight, gFromLeft]: [Tensor, Tensor]) => c.exchangeBidir(rightRank, leftRank, gFromRight, gFromLeft),
  };
}
