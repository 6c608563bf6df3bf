/** DDP's start-up sync: every rank takes rank 0's parameters and buffers. */
import { tf } from '@openclip/engine';
import type { OpenClipModel } from '@openclip/models';
import type { ArrayTransport } from '@openclip/losses';

/** Broadcasts rank 0's parameters and buffers to every rank (DDP's start-up sync). */
export async function broadcastModel(model: OpenClipModel, transport: ArrayTransport): Promise<void> {
  const vars = [...model.stateDict().values()].filter((v) => v.dtype === 'float32');
  const total = vars.reduce((a, v) => a + v.size, 0);
  let flat: Float32Array | null = null;
  if (transport.rank === 0) {
    flat = new Float32Array(total);
    let o = 0;
    for (const v of vars) {
      flat.set(v.dataSync() as Float32Array, o);
      o += v.size;
    }
  }
  const got = await transport.broadcast(flat, 0);
  if (got.length !== total) throw new Error(`broadcastModel: rank 0 sent ${got.length} values, this rank's model has ${total}: are all ranks running the same --model?`);
  let o = 0;
  for (const v of vars) {
    const t = tf.tensor(got.subarray(o, o + v.size), v.shape, 'float32');
    v.assign(t);
    t.dispose();
    o += v.size;
  }
}
