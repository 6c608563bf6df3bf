import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import { ClipLoss } from '../src/clip-loss.js';
import { valueAndGradsOf } from '../src/loss-api.js';
import { SimulatedWorld } from '../test-support/simulated-world.js';
import { assertClose, l2normalize, lossFixture, randn, stopGradient, take, testOnBackends } from '../test-support/loss-fixtures.js';

// Fixture case `losses`: ClipLoss()(image_features, text_features, logit_scale[, logit_bias]).
testOnBackends('ClipLoss matches the OpenCLIP fixture (value, logits, gradients)', () => {
  const fx = lossFixture();
  const tol = fx.tolerance;
  const img = fx.tensor('inputs.image_features');
  const txt = fx.tensor('inputs.text_features');
  const logScale = fx.tensor('inputs.logit_scale_log');
  const scale = fx.tensor('inputs.logit_scale');
  const bias = fx.tensor('inputs.logit_bias');
  const loss = new ClipLoss();

  // Gradient w.r.t. the logit_scale parameter (scale = exp(p)), as the model sees it.
  const viaParam = valueAndGradsOf((i, t, p) => loss.call({ image_features: i, text_features: t, logit_scale: tf.exp(p) }), [img, txt, logScale]);
  assertClose(take(viaParam.total), [fx.json.values.clip_loss], tol.value_atol, tol.value_rtol, 'clip_loss');
  assertClose(take(viaParam.grads[0]), fx.values('clip_loss.grad_image_features'), tol.grad_atol, tol.grad_rtol, 'clip_loss.grad_image_features');
  assertClose(take(viaParam.grads[1]), fx.values('clip_loss.grad_text_features'), tol.grad_atol, tol.grad_rtol, 'clip_loss.grad_text_features');
  assertClose(take(viaParam.grads[2]), fx.values('clip_loss.grad_logit_scale_log'), tol.grad_atol, tol.grad_rtol, 'clip_loss.grad_logit_scale_log');
  tf.dispose(Object.values(viaParam.losses));

  // Gradient w.r.t. the multiplier passed as a leaf, through lossAndGrads.
  return (async () => {
    const r = await loss.lossAndGrads({ image_features: img, text_features: txt, logit_scale: scale });
    assertClose(take(r.losses.contrastive_loss), [fx.json.values.clip_loss], tol.value_atol, tol.value_rtol, 'clip_loss (lossAndGrads)');
    assertClose(take(r.grads.logit_scale!), fx.values('clip_loss.grad_logit_scale'), tol.grad_atol, tol.grad_rtol, 'clip_loss.grad_logit_scale');
    assertClose(take(r.grads.image_features!), fx.values('clip_loss.grad_image_features'), tol.grad_atol, tol.grad_rtol, 'grad_image_features (lossAndGrads)');
    assertClose(take(r.grads.text_features!), fx.values('clip_loss.grad_text_features'), tol.grad_atol, tol.grad_rtol, 'grad_text_features (lossAndGrads)');
    take(r.total);

    const [lpi, lpt] = loss.getLogits(img, txt, scale);
    assertClose(take(lpi), fx.values('clip_loss.logits_per_image'), 1e-5, 1e-5, 'clip_loss.logits_per_image');
    assertClose(take(lpt), fx.values('clip_loss.logits_per_text'), 1e-5, 1e-5, 'clip_loss.logits_per_text');

    const rb = await loss.lossAndGrads({ image_features: img, text_features: txt, logit_scale: scale, logit_bias: bias });
    assertClose(take(rb.total), [fx.json.values.clip_loss_with_bias], tol.value_atol, tol.value_rtol, 'clip_loss_with_bias');
    assertClose(take(rb.grads.logit_bias!), fx.values('clip_loss_with_bias.grad_logit_bias'), tol.grad_atol, tol.grad_rtol, 'clip_loss_with_bias.grad_logit_bias');
    tf.dispose([rb.losses.contrastive_loss, rb.grads.image_features!, rb.grads.text_features!, rb.grads.logit_scale!]);
    tf.dispose([img, txt, logScale, scale, bias]);
    loss.dispose();
  })();
});

testOnBackends('ClipLoss stays finite with logit_scale 100 and features of norm 1e3', async () => {
  const rng = new Rng(3);
  const img = randn(rng, [6, 8], 400);
  const txt = randn(rng, [6, 8], 400);
  const scale = tf.scalar(100);
  const bias = tf.scalar(-10);
  const loss = new ClipLoss();
  const r = await loss.lossAndGrads({ image_features: img, text_features: txt, logit_scale: scale, logit_bias: bias });
  for (const [k, t] of Object.entries({ ...r.losses, ...r.grads })) {
    const v = take(t!);
    assert.ok(v.every(Number.isFinite), `${k} is not finite: ${v.slice(0, 4)}`);
  }
  take(r.total);
  tf.dispose([img, txt, scale, bias]);
});

test('label caching returns equal labels and reuses the cache only for the same size', async () => {
  const loss = new ClipLoss({ cacheLabels: true });
  const a = loss.getGroundTruth(5);
  const b = loss.getGroundTruth(5);
  assert.deepEqual(Array.from(a.dataSync()), [0, 1, 2, 3, 4]);
  assert.deepEqual(Array.from(b.dataSync()), [0, 1, 2, 3, 4]);
  const c = loss.getGroundTruth(3);
  assert.deepEqual(Array.from(c.dataSync()), [0, 1, 2]);
  tf.dispose([a, b, c]);
  loss.dispose();
  assert.throws(() => new ClipLoss({ worldSize: 2 }), /needs a collective/);
});

/**
 * Independent reference for what rank r computes in OpenCLIP (written without ClipLoss):
 * gather_features semantics via stop-gradient copies, so that one autodiff pass over
 * Σ_r L_r yields at slice r the gradient rank r ends with (gather-with-grad sums the others').
 */
function referenceRankLoss(allImg: Tensor, allTxt: Tensor, scale: Tensor, bias: Tensor | null, rank: number, world: number, local: boolean, gwg: boolean): Tensor {
  const n = allImg.shape[0]! / world;
  const mineI = tf.slice(allImg, rank * n, n);
  const mineT = tf.slice(allTxt, rank * n, n);
  const gathered = (all: Tensor, mine: Tensor) => {
    if (gwg) return all;
    const stopped = stopGradient(all);
    if (local) return stopped;
    const parts = [];
    for (let r = 0; r < world; r++) parts.push(r === rank ? mine : tf.slice(stopped, r * n, n));
    return tf.concat(parts, 0);
  };
  const gI = gathered(allImg, mineI);
  const gT = gathered(allTxt, mineT);
  let lpi: Tensor;
  let lpt: Tensor;
  if (local) {
    lpi = tf.mul(scale, tf.matMul(mineI, gT, false, true));
    lpt = tf.mul(scale, tf.matMul(mineT, gI, false, true));
  } else {
    lpi = tf.mul(scale, tf.matMul(gI, gT, false, true));
    lpt = tf.transpose(lpi);
  }
  if (bias) {
    lpi = tf.add(lpi, bias);
    lpt = tf.add(lpt, bias);
  }
  const rows = lpi.shape[0]!;
  const offset = local ? rank * n : 0;
  const onehot = tf.oneHot(tf.range(offset, offset + rows, 1, 'int32'), lpi.shape[1]!);
  const ce = (l: Tensor) => tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.sub(l, tf.logSumExp(l, 1, true))), 1)));
  return tf.div(tf.add(ce(lpi), ce(lpt)), 2);
}

for (const world of [2, 4]) {
  testOnBackends(`ClipLoss on a simulated world of ${world}: every localLoss × gatherWithGrad combination matches OpenCLIP semantics`, async () => {
    const n = 3;
    const rng = new Rng(100 + world);
    const allImg = l2normalize(randn(rng, [world * n, 8]));
    const allTxt = l2normalize(randn(rng, [world * n, 8]));
    const scale = tf.scalar(Math.exp(2.3));
    const bias = tf.scalar(-0.7);
    const imgData = allImg.dataSync();
    const txtData = allTxt.dataSync();
    const global = await new ClipLoss().lossAndGrads({ image_features: allImg, text_features: allTxt, logit_scale: scale, logit_bias: bias });
    const gLoss = take(global.total)[0];
    const gImg = take(global.grads.image_features!);
    const gTxt = take(global.grads.text_features!);
    const gScale = take(global.grads.logit_scale!)[0];
    const gBias = take(global.grads.logit_bias!)[0];
    tf.dispose(Object.values(global.losses));

    for (const local of [false, true]) {
      for (const gwg of [false, true]) {
        const label = `world ${world} localLoss=${local} gatherWithGrad=${gwg}`;
        const sim = new SimulatedWorld(world);
        const perRank = await sim.run(async (c) => {
          const loss = new ClipLoss({ collective: c, localLoss: local, gatherWithGrad: gwg, cacheLabels: true });
          const img = tf.tensor(imgData.slice(c.rank * n * 8, (c.rank + 1) * n * 8), [n, 8]);
          const txt = tf.tensor(txtData.slice(c.rank * n * 8, (c.rank + 1) * n * 8), [n, 8]);
          const r = await loss.lossAndGrads({ image_features: img, text_features: txt, logit_scale: scale, logit_bias: bias });
          const out = {
            loss: take(r.total)[0],
            img: take(r.grads.image_features!),
            txt: take(r.grads.text_features!),
            scale: take(r.grads.logit_scale!)[0],
            bias: take(r.grads.logit_bias!)[0],
          };
          tf.dispose([img, txt, ...Object.values(r.losses)]);
          loss.dispose();
          return out;
        });
        // Reference: one autodiff pass over Σ_r L_r with OpenCLIP's gather semantics.
        const ref = tf.engine().gradients(
          () => tf.addN(Array.from({ length: world }, (_, r) => referenceRankLoss(allImg, allTxt, scale, bias, r, world, local, gwg))),
          [allImg, allTxt],
        );
        const refImg = take(ref.grads[0]);
        const refTxt = take(ref.grads[1]);
        take(ref.value);
        for (let r = 0; r < world; r++) {
          const refLoss = tf.tidy(() => referenceRankLoss(allImg, allTxt, scale, bias, r, world, local, gwg));
          assertClose([perRank[r].loss], take(refLoss), 1e-6, 1e-5, `${label} rank ${r} loss`);
          assertClose(perRank[r].img, refImg.slice(r * n * 8, (r + 1) * n * 8), 2e-6, 1e-4, `${label} rank ${r} d/d image_features`);
          assertClose(perRank[r].txt, refTxt.slice(r * n * 8, (r + 1) * n * 8), 2e-6, 1e-4, `${label} rank ${r} d/d text_features`);
        }
        if (local && gwg) {
          // OpenCLIP's README property: --local-loss --gather-with-grad reproduces the
          // single-process gradients once DDP averages over ranks.
          const meanLoss = perRank.reduce((s, p) => s + p.loss, 0) / world;
          assertClose([meanLoss], [gLoss], 1e-6, 1e-5, `${label} mean loss vs global`);
          const cat = (k: 'img' | 'txt') => Float32Array.from(perRank.flatMap((p) => Array.from(p[k], (v) => v / world)));
          assertClose(cat('img'), gImg, 2e-6, 1e-4, `${label} Σ grads / world vs global d/d image_features`);
          assertClose(cat('txt'), gTxt, 2e-6, 1e-4, `${label} Σ grads / world vs global d/d text_features`);
          assertClose([perRank.reduce((s, p) => s + p.scale, 0) / world], [gScale], 2e-6, 1e-4, `${label} mean d/d logit_scale`);
          assertClose([perRank.reduce((s, p) => s + p.bias, 0) / world], [gBias], 2e-6, 1e-4, `${label} mean d/d logit_bias`);
        }
        if (!local && !gwg) {
          // Every rank computes the same global loss.
          for (const p of perRank) assertClose([p.loss], [gLoss], 1e-6, 1e-5, `${label} loss equals the global loss`);
        }
      }
    }
    tf.dispose([allImg, allTxt, scale, bias]);
  });
}
