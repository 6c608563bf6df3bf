/**
 * One rank of the data-parallel gradient test (child process):
 * `node ddp-test-rank.js <rank> <world> <port> <mode,...> <out.json>` computes, for each mode
 * (see ddp-test-model.ts), this rank's averaged gradients for its share of a fixed batch and
 * writes them as JSON.
 */
import { writeFileSync } from 'node:fs';
import { initEngine, tf } from '@openclip/engine';
import { createLoss, collectiveFromTransport } from '@openclip/losses';
import { TcpTransport } from './tcp-transport.js';
import { DistributedTrainStep, broadcastModel } from './ddp-step.js';
import { AdamW } from '../optim/adamw.js';
import { microBatches, parseMode, testBatch, testModel, testTeacher, TRACKED } from './ddp-test-model.js';

const [rank, world, port] = process.argv.slice(2, 5).map(Number);
const modes = process.argv[5].split(',');
const out = process.argv[6];
await initEngine({ backend: 'cpu' });
const transport = await TcpTransport.connect({ rank, worldSize: world, masterAddr: '127.0.0.1', masterPort: port, timeoutMs: 30_000, secret: 'ddp-test' });
try {
  const results: Record<string, { losses: Record<string, number>; grads: Record<string, number[]> }> = {};
  for (const name of modes) {
    const mode = parseMode(name);
    // every rank starts from a different init; the broadcast must make them equal
    const model = testModel(rank === 0 ? 7 : 100 + rank);
    await broadcastModel(model, transport);
    const teacher = mode.distill ? testTeacher() : null;
    const loss = createLoss({
      model: 'test',
      collective: collectiveFromTransport(transport),
      localLoss: mode.localLoss,
      gatherWithGrad: mode.gatherWithGrad,
      siglip: mode.siglip,
      lossDistImpl: mode.distImpl as never,
      distillModel: mode.distill ? 'teacher' : null,
      distillPretrained: mode.distill ? 'teacher' : null,
    });
    const trainable = [...model.params.keys()];
    const step = new DistributedTrainStep(model, loss, new AdamW(model.params, { lr: 0 }), transport, { trainable, teacher });
    const full = testBatch();
    const mbs = microBatches(full, mode, rank, world);
    const local = await step.localGrads(mbs);
    const avg = await step.averageGrads(local.grads);
    const grads: Record<string, number[]> = {};
    for (const k of TRACKED) grads[k] = Array.from(avg.get(k)!.dataSync());
    results[name] = { losses: local.losses, grads };
    tf.dispose([...avg.values(), ...mbs.flatMap((m) => [m.images, m.tokens]), full.images, full.tokens]);
    loss.dispose();
    model.dispose();
    teacher?.dispose();
  }
  writeFileSync(out, JSON.stringify({ rank, results }));
} finally {
  transport.close();
}
