/**
 * A `Collective` over a transport that moves Float32Arrays between processes (the shape of the
 * train package's TCP transport): tensors are read, sent as float32 data, and rebuilt. The
 * bidirectional neighbour exchange is two one-way exchanges, the left-going one first.
 */
import { tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import { checkRank, checkReduceOp, CollectiveError } from './collective.js';
import type { Collective, ReduceOp } from './collective.js';

/** What a Float32Array transport offers. Every rank calls the operations in the same order. */
export interface ArrayTransport {
  readonly rank: number;
  readonly worldSize: number;
  allReduce(data: Float32Array, op?: ReduceOp): Promise<Float32Array>;
  /** Every rank's array in rank order. */
  allGather(data: Float32Array): Promise<Float32Array[]>;
  /** Root passes its data; the others may pass null. */
  broadcast(data: Float32Array | null, root: number): Promise<Float32Array>;
  barrier(): Promise<void>;
  /** Sends to `to`, receives from `from`. */
  exchange(from: number, to: number, data: Float32Array): Promise<Float32Array>;
}

async function floats(t: Tensor, what: string): Promise<Float32Array> {
  if (t.dtype !== 'float32') throw new CollectiveError(`${what}: only float32 tensors travel over the transport, got ${t.dtype}`);
  return Float32Array.from((await t.data()) as Float32Array);
}

function rebuild(data: Float32Array, shape: number[], what: string): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  if (data.length !== size) throw new CollectiveError(`${what}: received ${data.length} values for a tensor of shape [${shape}]`);
  return tf.tensor(data, shape, 'float32');
}

export function collectiveFromTransport(transport: ArrayTransport): Collective {
  const { rank, worldSize } = transport;
  checkRank(rank, worldSize, 'collectiveFromTransport');
  return {
    rank,
    worldSize,
    async allGather(t) {
      const parts = await transport.allGather(await floats(t, 'allGather'));
      parts.forEach((p, r) => {
        if (p.length !== t.size) throw new CollectiveError(`allGather: rank ${r} sent ${p.length} values, rank ${rank} has ${t.size} (shape [${t.shape}])`);
      });
      const out = new Float32Array(t.size * parts.length);
      parts.forEach((p, r) => out.set(p, r * t.size));
      const shape = t.rank === 0 ? [parts.length] : [t.shape[0] * parts.length, ...t.shape.slice(1)];
      return tf.tensor(out, shape, 'float32');
    },
    async allReduce(t, op: ReduceOp = 'sum') {
      checkReduceOp(op);
      return rebuild(await transport.allReduce(await floats(t, 'allReduce'), op), [...t.shape], 'allReduce');
    },
    async broadcast(t, root) {
      checkRank(root, worldSize, 'broadcast root');
      const got = await transport.broadcast(rank === root ? await floats(t, 'broadcast') : null, root);
      return rebuild(got, [...t.shape], 'broadcast');
    },
    barrier: () => transport.barrier(),
    async exchange(fromRank, toRank, t) {
      checkRank(fromRank, worldSize, 'exchange fromRank');
      checkRank(toRank, worldSize, 'exchange toRank');
      return rebuild(await transport.exchange(fromRank, toRank, await floats(t, 'exchange')), [...t.shape], 'exchange');
    },
    async exchangeBidir(leftRank, rightRank, toLeft, toRight) {
      checkRank(leftRank, worldSize, 'exchangeBidir leftRank');
      checkRank(rightRank, worldSize, 'exchangeBidir rightRank');
      // What goes left arrives from the right, and vice versa.
      const fromRight = rebuild(await transport.exchange(rightRank, leftRank, await floats(toLeft, 'exchangeBidir')), [...toLeft.shape], 'exchangeBidir');
      const fromLeft = rebuild(await transport.exchange(leftRank, rightRank, await floats(toRight, 'exchangeBidir')), [...toRight.shape], 'exchangeBidir');
      return [fromRight, fromLeft];
    },
  };
}
