/**
 * One rank of the data-parallel gradient test (child process):
 * `node ddp-rank.js <rank> <world> <port> <mode,...> <out.json> [tcp|mpi]` computes, for each
 * mode (see ddp-model.ts), this rank's averaged gradients for its share of a fixed batch and
 * writes them as JSON to <out.json>, where `{rank}` stands for the rank (with how many gradients
 * the step reduced in their own arrays). Under mpirun (`mpi`)
 * rank and world come from MPI.
 */
import { writeFileSync } from 'node:fs';
import { initEngine, tf } from '@openclip/engine';
import { createLoss, collectiveFromTransport } from '@openclip/losses';
import { TcpTransport } from '../src/distributed/tcp-transport.js';
import { MpiTransport } from '../src/distributed/mpi-transport.js';
import type { Collectives } from '../src/distributed/backend.js';
import { DistributedTrainStep } from '../src/distributed/ddp-step.js';
import { broadcastModel } from '../src/distributed/broadcast-model.js';
import { AdamW } from '../src/optim/adamw.js';
import { microBatches, parseMode, testBatch, testModel, testTeacher, TRACKED } from './ddp-model.js';

const [argRank, world, port] = process.argv.slice(2, 5).map(Number);
const modes = process.argv[5].split(',');
const backend = process.argv[7] ?? 'tcp';
// DDP_TEST_BACKEND: the engine backend (default cpu); DDP_IN_PLACE_MIN: the step's inPlaceMin
await initEngine({ backend: process.env.DDP_TEST_BACKEND ?? 'cpu' });
const inPlaceMin = process.env.DDP_IN_PLACE_MIN ? Number(process.env.DDP_IN_PLACE_MIN) : undefined;
const transport: Collectives =
  backend === 'mpi' ? MpiTransport.create({ opTimeoutMs: 120_000, expectWorldSize: world }) : await TcpTransport.connect({ rank: argRank, worldSize: world, masterAddr: '127.0.0.1', masterPort: port, timeoutMs: 30_000, opTimeoutMs: 120_000, secret: 'ddp-test' });
const rank = transport.rank;
const out = process.argv[6].replace('{rank}', String(rank));
try {
  const results: Record<string, { losses: Record<string, number>; grads: Record<string, number[]>; reducedInPlace: number }> = {};
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
    const step = new DistributedTrainStep(model, loss, new AdamW(model.params, { lr: 0 }), transport, { trainable, teacher, inPlaceMin });
    const full = testBatch();
    const mbs = microBatches(full, mode, rank, world);
    const local = await step.localGrads(mbs);
    const avg = await step.averageGrads(local.grads);
    const grads: Record<string, number[]> = {};
    for (const k of TRACKED) grads[k] = Array.from(avg.get(k)!.dataSync());
    results[name] = { losses: local.losses, grads, reducedInPlace: step.reducedInPlace };
    tf.dispose([...avg.values(), ...mbs.flatMap((m) => [m.images, m.tokens]), full.images, full.tokens]);
    loss.dispose();
    model.dispose();
    teacher?.dispose();
  }
  writeFileSync(out, JSON.stringify({ rank, results }));
} finally {
  transport.close();
}
