// Data-parallel gradients on 2 and 4 loopback processes against independently computed
// single-process expectations, for every ClipLoss mode, SigLipLoss, --accum-freq 2 and
// distillation; ranks start from different inits and agree after the parameter broadcast.
//
// What OpenCLIP's DDP produces, as the gradient G of one process on the concatenated batch
// (L: that process's loss; N ranks; DDP averages parameter gradients over ranks):
// - --gather-with-grad (with or without --local-loss), SigLipLoss: G.
// - neither flag: every rank computes the whole-batch loss but only its own features carry
//   gradient, so the feature-side parameters get G/N, while logit_scale (and logit_bias), which
//   every rank differentiates fully, get G.
// - --local-loss alone: the gradient of L with the gathered "other side" detached:
//   (CE(s·x_i·sg(T)ᵀ, i) + CE(s·t_i·sg(X)ᵀ, i))/2 averaged over the batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '@openclip/engine';
import { ClipLoss, createLoss, type ArrayTransport } from '@openclip/losses';
import { TrainStep } from '../../src/train-step.js';
import { AdamW } from '../../src/optim/adamw.js';
import { DistributedTrainStep } from '../../src/distributed/ddp-step.js';
import { ddpRanks, type RankResult } from '../../test-support/ddp-ranks.js';
import { mpiAvailability } from '../../src/distributed/mpi-transport.js';
import { microBatches, parseMode, testBatch, testModel, testTeacher, TEST_CONFIG, TRACKED } from '../../test-support/ddp-model.js';

type Result = RankResult;

/** One process, the whole batch, the same micro-batches: the single-process training step's gradients. */
function single(name: string): Result {
  const mode = parseMode(name);
  const model = testModel(7);
  const teacher = mode.distill ? testTeacher() : null;
  const loss = createLoss({ model: 'test', siglip: mode.siglip, lossDistImpl: mode.distImpl as never, distillModel: mode.distill ? 'teacher' : null, distillPretrained: mode.distill ? 'teacher' : null });
  const full = testBatch();
  const mbs = microBatches(full, mode, 0, 1);
  const r = new TrainStep(model, loss, new AdamW(model.params, { lr: 0 }), { trainable: TRACKED, teacher }).grads(mbs);
  const grads: Record<string, number[]> = {};
  for (const k of TRACKED) grads[k] = Array.from(r.grads.get(k)!.dataSync());
  tf.dispose([...r.grads.values(), ...mbs.flatMap((m) => [m.images, m.tokens]), full.images, full.tokens]);
  loss.dispose();
  model.dispose();
  teacher?.dispose();
  return { losses: r.losses, grads };
}

/** --local-loss without --gather-with-grad: one process, the other side of each logit matrix detached. */
function detachedOtherSide(): Result {
  const model = testModel(7);
  const loss = new ClipLoss();
  const b = testBatch();
  const [x0, t0] = tf.tidy(() => {
    const o = model.forward(b.images, b.tokens);
    return [o.imageFeatures!, o.textFeatures!];
  });
  const vars = TRACKED.map((k) => model.params.get(k)!);
  const r = tf.variableGrads(() => {
    const o = model.forward(b.images, b.tokens);
    const perImage = tf.matMul(tf.mul(o.logitScale, o.imageFeatures!), t0, false, true);
    const perText = tf.matMul(tf.mul(o.logitScale, o.textFeatures!), x0, false, true);
    return loss.contrastive(perImage, perText) as tf.Scalar;
  }, vars);
  const grads: Record<string, number[]> = {};
  TRACKED.forEach((k, i) => (grads[k] = Array.from(r.grads[vars[i].name].dataSync())));
  const total = r.value.dataSync()[0];
  tf.dispose([r.value, ...Object.values(r.grads), x0, t0, b.images, b.tokens]);
  loss.dispose();
  model.dispose();
  return { losses: { contrastive_loss: total }, grads };
}

/** What OpenCLIP's DDP gives on `world` ranks in this mode, from one process (see the relations above). */
function expected(name: string, world: number): Result {
  const mode = parseMode(name);
  if (mode.siglip || mode.gatherWithGrad) return single(name);
  if (mode.localLoss) {
    if (mode.accumFreq !== 1 || mode.distill) throw new Error(`no single-process expectation for mode ${name}`);
    return detachedOtherSide();
  }
  const s = single(name);
  for (const k of TRACKED) if (k !== 'logit_scale' && k !== 'logit_bias') s.grads[k] = s.grads[k].map((g) => g / world);
  return s;
}

function compare(got: Record<string, number[]>, want: Record<string, number[]>, what: string, keys = TRACKED, allowZero = false) {
  for (const k of keys) {
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < want[k].length; i++) {
      worst = Math.max(worst, Math.abs(got[k][i] - want[k][i]));
      scale = Math.max(scale, Math.abs(want[k][i]));
    }
    assert.ok(scale > 0 || allowZero, `${what}: ${k} has a zero expected gradient`);
    assert.ok(worst <= 1e-5 + 1e-4 * scale, `${what}: ${k} max error ${worst} (max |grad| ${scale})`);
  }
}

const MODES: Record<number, string[]> = {
  2: ['plain', 'local', 'local-gwg', 'gwg', 'siglip-bidir', 'accum-local-gwg', 'accum-gwg', 'accum-plain', 'accum-siglip-bidir', 'distill-local-gwg', 'distill-plain'],
  4: ['plain', 'local', 'local-gwg', 'siglip-bidir', 'siglip-gather', 'siglip-shift', 'accum-local-gwg', 'accum-plain', 'distill-local-gwg'],
};
const tcpResults = new Map<number, Record<string, Result>[]>();
for (const world of [2, 4]) {
  test(`${world} processes (${MODES[world].join(', ')}): averaged gradients and losses match the single-process expectation`, async () => {
    await initEngine({ backend: 'cpu' });
    const want = Object.fromEntries(MODES[world].map((m) => [m, expected(m, world)]));
    const ranks = await ddpRanks('tcp', world, MODES[world]);
    tcpResults.set(world, ranks);
    for (const mode of MODES[world]) {
      ranks.forEach((g, r) => compare(g[mode].grads, want[mode].grads, `${mode} rank ${r}`));
      // each rank's loss covers its rows (local loss, SigLIP) or the whole batch; their mean is the whole batch's
      for (const k of Object.keys(want[mode].losses)) {
        const mean = ranks.reduce((a, g) => a + g[mode].losses[k], 0) / world;
        assert.ok(Math.abs(mean - want[mode].losses[k]) <= 1e-5 * Math.max(1, Math.abs(want[mode].losses[k])), `${mode} ${k}: mean over ranks ${mean}, one process ${want[mode].losses[k]}`);
      }
    }
  });
}

// Open MPI (--dist-backend mpi) under mpirun: the same modes give what the TCP transport gave
// (bit for bit on 2 ranks, where a sum of two values has one order; within float rounding of the
// summation order on 4) and the single-process expectation.
const mpi = mpiAvailability();
for (const world of [2, 4]) {
  test(`Open MPI, ${world} ranks under mpirun: every mode's gradients and losses equal the TCP transport's`, { skip: mpi.ok ? false : mpi.reason }, async () => {
    await initEngine({ backend: 'cpu' });
    const tcp = tcpResults.get(world) ?? (await ddpRanks('tcp', world, MODES[world]));
    const ranks = await ddpRanks('mpi', world, MODES[world]);
    for (const mode of MODES[world]) {
      ranks.forEach((g, r) => {
        const want = tcp[r][mode];
        if (world === 2) {
          assert.deepEqual(g[mode].grads, want.grads, `${mode} rank ${r}: gradients`);
          assert.deepEqual(g[mode].losses, want.losses, `${mode} rank ${r}: losses`);
        } else {
          for (const k of TRACKED) {
            const scale = want.grads[k].reduce((a, x) => Math.max(a, Math.abs(x)), 0);
            const worst = want.grads[k].reduce((a, x, i) => Math.max(a, Math.abs(x - g[mode].grads[k][i])), 0);
            assert.ok(worst <= 1e-6 * scale + 1e-9, `${mode} rank ${r}: ${k} differs from TCP by ${worst} (max |grad| ${scale})`);
          }
          for (const [k, v] of Object.entries(want.losses)) assert.ok(Math.abs(g[mode].losses[k] - v) <= 1e-6 * Math.max(1, Math.abs(v)), `${mode} rank ${r}: ${k} ${g[mode].losses[k]} vs TCP ${v}`);
        }
      });
    }
  });
}

// On the native backend a gradient's own array may be reduced in place; with inPlaceMin 1 every
// dense gradient is, and the result must be what the single process gives (as the packed path's is).
test('native backend, 2 processes: dense gradients all-reduced in their own arrays give the single-process expectation', async (t) => {
  try {
    await initEngine({ backend: 'native' });
  } catch (e) {
    t.skip(`the native backend is not available: ${(e as Error).message}`);
    return;
  }
  const modes = ['plain', 'local-gwg'];
  const ranks = await ddpRanks('tcp', 2, modes, 240_000, { DDP_TEST_BACKEND: 'native', DDP_IN_PLACE_MIN: '1' });
  await initEngine({ backend: 'cpu' });
  for (const mode of modes) {
    const want = expected(mode, 2);
    ranks.forEach((g, r) => {
      assert.ok((g[mode].reducedInPlace ?? 0) > 0, `${mode} rank ${r}: no gradient was reduced in its own array`);
      compare(g[mode].grads, want.grads, `${mode} rank ${r} (in place)`);
    });
    assert.deepEqual(ranks[0][mode].grads, ranks[1][mode].grads, `${mode}: both ranks hold the same averaged gradients`);
  }
});

/** A world of one rank, for running the data-parallel step in this process. */
const alone: ArrayTransport = {
  rank: 0,
  worldSize: 1,
  allReduce: async (d) => d,
  allGather: async (d) => [d],
  broadcast: async (d) => d!,
  barrier: async () => {},
  exchange: async (_f, _t, d) => d,
};

test('one tape with one micro-batch, a replayed forward with several: PatchDropout draws and BatchNorm running stats as in the one-process step', async () => {
  await initEngine({ backend: 'cpu' });
  const configs = {
    'patch dropout': { ...TEST_CONFIG, vision_cfg: { ...TEST_CONFIG.vision_cfg, patch_dropout: 0.5 } },
    'ModifiedResNet BatchNorm': { ...TEST_CONFIG, vision_cfg: { image_size: 32, layers: [1, 1, 1, 1], width: 8, head_width: 8 } },
  };
  for (const [what, config] of Object.entries(configs)) {
    const size = (config.vision_cfg as { image_size: number }).image_size;
    const full = testBatch();
    const images = tf.tidy(() => tf.transpose(tf.image.resizeBilinear(tf.transpose(full.images, [0, 2, 3, 1]) as tf.Tensor4D, [size, size]), [0, 3, 1, 2]));
    const whole = { images, tokens: full.tokens };
    const halves = [0, 4].map((s) => ({ images: images.slice([s, 0, 0, 0], [4, -1, -1, -1]), tokens: full.tokens.slice([s, 0], [4, -1]) }));
    for (const accum of [1, 2]) {
      const a = testModel(7, config);
      const b = testModel(7, config);
      const trainable = [...a.params.keys()];
      const lossA = createLoss({ model: 'test' });
      const lossB = createLoss({ model: 'test' });
      const want = new TrainStep(a, lossA, new AdamW(a.params, { lr: 0 }), { trainable }).grads([whole]);
      const ddp = new DistributedTrainStep(b, lossB, new AdamW(b.params, { lr: 0 }), alone, { trainable });
      const bnKey = [...b.buffers.keys()].find((k) => k.endsWith('num_batches_tracked'));
      const before = bnKey ? b.buffers.get(bnKey)!.dataSync()[0] : 0;
      let forwards = 0;
      const forward = b.forward.bind(b);
      b.forward = (...args: Parameters<typeof b.forward>) => (forwards++, forward(...args));
      const got = await ddp.localGrads(accum === 1 ? [whole] : halves);
      assert.equal(forwards, accum === 1 ? 1 : 4, `${what}: forward passes with ${accum} micro-batch(es)`);
      const asRecord = (m: Map<string, tf.Tensor>, scaleLogit = 1) => Object.fromEntries(trainable.map((k) => [k, Array.from(m.get(k)!.dataSync(), (x) => (k === 'logit_scale' ? x * scaleLogit : x))]));
      if (accum === 1) {
        // (ModifiedResNet zero-initialises each block's last BatchNorm weight, so its branch has no gradient yet)
        compare(asRecord(got.grads), asRecord(want.grads), `${what}, one micro-batch`, trainable, true);
        assert.ok(Math.abs(asRecord(want.grads)['visual.conv1.weight'][0]) > 0, `${what}: the stem has a gradient`);
        for (const [k, v] of a.buffers) assert.deepEqual(Array.from(b.buffers.get(k)!.dataSync()), Array.from(v.dataSync()), `${what}: buffer ${k}`);
      } else if (!bnKey) {
        // two micro-batches draw PatchDropout's noise in the order one batch of 8 does, so the replayed
        // forwards give the one-pass gradient; logit_scale is differentiated once per pass (twice)
        compare(asRecord(got.grads), asRecord(want.grads, 2), `${what}, two micro-batches`, trainable);
      } else {
        // BatchNorm statistics differ between batches of 4 and 8; the replay updates them once per micro-batch
        assert.equal(b.buffers.get(bnKey)!.dataSync()[0] - before, 2, `${what}: ${bnKey} after two micro-batches`);
      }
      tf.dispose([...want.grads.values(), ...got.grads.values()]);
      for (const x of [lossA, lossB, a, b]) x.dispose();
    }
    tf.dispose([images, full.images, full.tokens, ...halves.flatMap((h) => [h.images, h.tokens])]);
  }
});
