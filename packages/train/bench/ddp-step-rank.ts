/**
 * One process of the data-parallel step benchmark (child process):
 * `node ddp-step-rank.js <rank> <world> <port> <batch> <steps> <ddp|alone> [MODEL|CONFIG.json] [tcp|mpi]`
 * times the phases of `DistributedTrainStep` (default model: the demo model) with random batches
 * and prints them as JSON (rank 0). `alone` runs what one process of `openclip train` runs instead
 * (`TrainStep`), as the baseline. With `mpi` (under mpirun) rank and world come from Open MPI.
 */
import { initEngine, tf, Rng } from '@openclip/engine';
import { addModelConfig, createModel } from '@openclip/models';
import { basename } from 'node:path';
import { createLoss, collectiveFromTransport, type OpenClipLoss } from '@openclip/losses';
import { TcpTransport } from '../src/distributed/tcp-transport.js';
import { MpiTransport } from '../src/distributed/mpi-transport.js';
import type { Collectives } from '../src/distributed/backend.js';
import { DistributedTrainStep } from '../src/distributed/ddp-step.js';
import { broadcastModel } from '../src/distributed/broadcast-model.js';
import { applyUpdate, TrainStep } from '../src/train-step.js';
import { AdamW } from '../src/optim/adamw.js';

const [argRank, world, port, batch, steps] = process.argv.slice(2, 7).map(Number);
const alone = process.argv[7] === 'alone';
const spec = process.argv[8] ?? 'ViT-Tiny-8-64-demo';
const backend = process.argv[9] ?? 'tcp';
const WARMUP = 3;

await initEngine({});
const transport: Collectives | null = alone
  ? null
  : backend === 'mpi'
    ? MpiTransport.create({ opTimeoutMs: 600_000, expectWorldSize: world })
    : await TcpTransport.connect({ rank: argRank, worldSize: world, masterAddr: '127.0.0.1', masterPort: port, timeoutMs: 60_000, opTimeoutMs: Number(process.env.OPENCLIP_DIST_TIMEOUT_S ?? 600) * 1000, secret: 'bench' });
const rank = transport?.rank ?? argRank;
const name = spec.endsWith('.json') ? (addModelConfig(spec), basename(spec, '.json')) : spec;
const model = createModel(name, { seed: 1 });
model.train();
const size = model.config.vision_cfg.image_size as number;
const inner = createLoss({ model: name, collective: transport ? collectiveFromTransport(transport) : undefined, localLoss: true, gatherWithGrad: true });
const phase = { grads: 0, loss: 0, allReduce: 0, update: 0, step: 0 };
/** Each timed step's wall time (ms), for the lockstep bound the bench derives from two independent processes. */
const stepTimes: number[] = [];
const loss: OpenClipLoss = {
  name: inner.name,
  rank: inner.rank,
  worldSize: inner.worldSize,
  call: (o) => inner.call(o),
  dispose: () => inner.dispose(),
  lossAndGrads: async (o) => {
    const t = performance.now();
    const r = await inner.lossAndGrads(o);
    phase.loss += performance.now() - t;
    return r;
  },
};
const optimizer = new AdamW(model.params, { lr: 1e-4 });
const trainable = [...model.params.keys()];
if (transport) await broadcastModel(model, transport);
const ddp = transport ? new DistributedTrainStep(model, loss, optimizer, transport, { trainable }) : null;
const one = transport ? null : new TrainStep(model, loss, optimizer, { trainable });
const rng = new Rng(100 + rank);
const ctx = model.config.text_cfg.context_length;
for (let i = 0; i < WARMUP + steps; i++) {
  if (i === WARMUP) for (const k of Object.keys(phase) as (keyof typeof phase)[]) phase[k] = 0;
  const tokens = new Int32Array(batch * ctx);
  for (let b = 0; b < batch; b++) {
    const len = 3 + rng.randint(ctx - 4);
    tokens[b * ctx] = 49406;
    for (let j = 1; j < len; j++) tokens[b * ctx + j] = 1 + rng.randint(49000);
    tokens[b * ctx + len] = 49407;
  }
  const mb = { images: tf.tensor4d(rng.fillNormal(new Float32Array(batch * 3 * size * size)), [batch, 3, size, size]), tokens: tf.tensor2d(tokens, [batch, ctx], 'int32') };
  const t0 = performance.now();
  const local = ddp ? await ddp.localGrads([mb]) : one!.grads([mb]);
  const t1 = performance.now();
  const grads = ddp ? await ddp.averageGrads(local.grads) : local.grads;
  const t2 = performance.now();
  applyUpdate(model, optimizer, grads, 1e-4, null);
  const t3 = performance.now();
  phase.grads += t1 - t0;
  phase.allReduce += t2 - t1;
  phase.update += t3 - t2;
  phase.step += t3 - t0;
  if (i >= WARMUP) stepTimes.push(t3 - t0);
  tf.dispose([mb.images, mb.tokens]);
}
transport?.close();
if (rank === 0 || alone) console.log(JSON.stringify({ ...Object.fromEntries(Object.entries(phase).map(([k, v]) => [k, v / steps])), samplesPerSecond: (batch * (alone ? 1 : world) * steps) / (phase.step / 1000), stepTimes }));
