/**
 * One rank of the data-parallel gradient test (child process):
 * `node ddp-test-rank.js <rank> <world> <port> <mode> <out.json>` computes this rank's averaged
 * gradients for its slice of a fixed batch and writes them as JSON.
 */
import { writeFileSync } from 'node:fs';
import { initEngine, tf } from '@openclip/engine';
import { createLoss, collectiveFromTransport } from '@openclip/losses';
import { TcpTransport } from './tcp-transport.js';
import { DistributedTrainStep, broadcastModel } from './ddp-step.js';
import { AdamW } from '../optim/adamw.js';
import { testBatch, testModel, TRACKED } from './ddp-test-model.js';

const [rank, world, port] = process.argv.slice(2, 5).map(Number);
const modes = process.argv[5].split(',');
const out = process.argv[6];
await initEngine({ backend: 'cpu' });
const transport = await TcpTransport.connect({ rank, worldSize: world, masterAddr: '127.0.0.1', masterPort: port, timeoutMs: 30_000 });
try {
  const results: Record<string, Record<string, number[]>> = {};
  for (const mode of modes) {
    // every rank starts from a different init; the broadcast must make them equal
    const model = testModel(rank === 0 ? 7 : 100 + rank);
    await broadcastModel(model, transport);
    const collective = collectiveFromTransport(transport);
    const loss = createLoss({
      model: 'test',
      collective,
      localLoss: mode.includes('local'),
      gatherWithGrad: mode.includes('gwg'),
      siglip: mode.includes('siglip'),
      lossDistImpl: mode.includes('siglip') ? ((mode.split('siglip-')[1] ?? 'bidir') as never) : undefined,
    });
    const trainable = [...model.params.keys()];
    const step = new DistributedTrainStep(model, loss, new AdamW(model.params, { lr: 0 }), transport, { trainable });
    const full = testBatch();
    const n = full.images.shape[0] / world;
    const mb = { images: full.images.slice([rank * n, 0, 0, 0], [n, -1, -1, -1]), tokens: full.tokens.slice([rank * n, 0], [n, -1]) };
    const local = await step.localGrads(mb);
    const avg = await step.averageGrads(local.grads);
    const res: Record<string, number[]> = {};
    for (const k of TRACKED) res[k] = Array.from(avg.get(k)!.dataSync());
    results[mode] = res;
    tf.dispose([...avg.values(), mb.images, mb.tokens, full.images, full.tokens]);
    loss.dispose();
    model.dispose();
  }
  writeFileSync(out, JSON.stringify({ rank, results }));
} finally {
  transport.close();
}
