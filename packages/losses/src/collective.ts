/**
 * The collective-communication interface the losses use, mirroring what OpenCLIP gets from
 * `torch.distributed` (all_gather, all_reduce, broadcast, barrier, and the point-to-point
 * neighbour exchanges of SigLIP), plus its single-process implementation (world size 1).
 *
 * Every operation is asynchronous because a real transport is. TensorFlow.js gradient tapes
 * are synchronous, so gradients never flow "through" a collective: the losses run the
 * backward pass of each collective explicitly (see `distributed-grad.ts`).
 */
import { tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';

export type ReduceOp = 'sum' | 'mean' | 'max' | 'min';

export const REDUCE_OPS: readonly ReduceOp[] = ['sum', 'mean', 'max', 'min'];

export interface Collective {
  /** This process's rank, 0 ≤ rank < worldSize. */
  readonly rank: number;
  readonly worldSize: number;
  /**
   * Concatenates every rank's tensor along axis 0, in rank order (torch `all_gather` +
   * `cat(dim=0)`). Every rank must pass the same shape and dtype. Data only, no gradient.
   */
  allGather(t: Tensor): Promise<Tensor>;
  /** Elementwise reduction over ranks; every rank receives the result. */
  allReduce(t: Tensor, op?: ReduceOp): Promise<Tensor>;
  /** Every rank receives root's tensor (the others pass a tensor of the same shape or any tensor). */
  broadcast(t: Tensor, root: number): Promise<Tensor>;
  /** Resolves when every rank has reached it. */
  barrier(): Promise<void>;
  /** Sends `t` to `toRank` and receives a tensor from `fromRank` (OpenCLIP `neighbour_exchange`). */
  exchange(fromRank: number, toRank: number, t: Tensor): Promise<Tensor>;
  /**
   * Sends `toLeft` to `leftRank` and `toRight` to `rightRank`, and receives one tensor from each;
   * resolves to `[fromRight, fromLeft]` in OpenCLIP's `neighbour_exchange_bidir` order.
   */
  exchangeBidir(leftRank: number, rightRank: number, toLeft: Tensor, toRight: Tensor): Promise<[Tensor, Tensor]>;
}

export class CollectiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CollectiveError';
  }
}

/** Throws unless `r` is a valid rank of a world of `worldSize`. */
export function checkRank(r: number, worldSize: number, what: string): void {
  if (!Number.isInteger(r) || r < 0 || r >= worldSize) {
    throw new CollectiveError(`${what}: rank ${r} is outside the world [0, ${worldSize})`);
  }
}

export function checkReduceOp(op: string): asserts op is ReduceOp {
  if (!(REDUCE_OPS as readonly string[]).includes(op)) {
    throw new CollectiveError(`allReduce: unknown op '${op}' (choose one of: ${REDUCE_OPS.join(', ')})`);
  }
}

/** World size 1: every collective is the identity (returns a copy the caller owns). */
export class SingleProcessCollective implements Collective {
  readonly rank = 0;
  readonly worldSize = 1;

  async allGather(t: Tensor): Promise<Tensor> {
    return tf.clone(t);
  }

  async allReduce(t: Tensor, op: ReduceOp = 'sum'): Promise<Tensor> {
    checkReduceOp(op);
    return tf.clone(t);
  }

  async broadcast(t: Tensor, root: number): Promise<Tensor> {
    checkRank(root, 1, 'broadcast root');
    return tf.clone(t);
  }

  async barrier(): Promise<void> {}

  async exchange(fromRank: number, toRank: number, t: Tensor): Promise<Tensor> {
    checkRank(fromRank, 1, 'exchange fromRank');
    checkRank(toRank, 1, 'exchange toRank');
    return tf.clone(t);
  }

  async exchangeBidir(leftRank: number, rightRank: number, toLeft: Tensor, toRight: Tensor): Promise<[Tensor, Tensor]> {
    checkRank(leftRank, 1, 'exchangeBidir leftRank');
    checkRank(rightRank, 1, 'exchangeBidir rightRank');
    // The tensor sent left arrives from the right, and vice versa.
    return [tf.clone(toLeft), tf.clone(toRight)];
  }
}
