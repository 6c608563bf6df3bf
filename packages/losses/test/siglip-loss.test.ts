import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, tf } from '@openclip/engine';
import { valueAndGradsOf } from '../src/loss-api.js';
import { SigLipLoss, SIGLIP_DIST_IMPLS } from '../src/siglip-loss.js';
import { SimulatedWorld } from '../test-support/simulated-world.js';
import { assertClose, l2normalize, lossFixture, randn, take, testOnBackends } from '../test-support/loss-fixtures.js';

// Fixture case `losses`: SigLipLoss()(image_features, text_features, siglip_logit_scale, siglip_logit_bias).
testOnBackends('SigLipLoss matches the OpenCLIP fixture (value and gradients)', () => {
  const fx = lossFixture();
  const tol = fx.tolerance;
  const img = fx.tensor('inputs.image_features');
  const txt = fx.tensor('inputs.text_features');
  const logScale = fx.tensor('inputs.siglip_logit_scale_log');
  const bias = fx.tensor('inputs.siglip_logit_bias');
  const loss = new SigLipLoss();
  const r = valueAndGradsOf(
    (i, t, p, b) => loss.call({ image_features: i, text_features: t, logit_scale: tf.exp(p), logit_bias: b }),
    [img, txt, logScale, bias],
  );
  assertClose(take(r.total), [fx.json.values.siglip_loss], tol.value_atol, tol.value_rtol, 'siglip_loss');
  assertClose(take(r.grads[0]), fx.values('siglip_loss.grad_image_features'), tol.grad_atol, tol.grad_rtol, 'siglip_loss.grad_image_features');
  assertClose(take(r.grads[1]), fx.values('siglip_loss.grad_text_features'), tol.grad_atol, tol.grad_rtol, 'siglip_loss.grad_text_features');
  assertClose(take(r.grads[2]), fx.values('siglip_loss.grad_logit_scale_log'), tol.grad_atol, tol.grad_rtol, 'siglip_loss.grad_logit_scale_log');
  assertClose(take(r.grads[3]), fx.values('siglip_loss.grad_logit_bias'), tol.grad_atol, tol.grad_rtol, 'siglip_loss.grad_logit_bias');
  tf.dispose([...Object.values(r.losses), img, txt, logScale, bias]);
});

testOnBackends('SigLipLoss negatives-only blocks and plain-JS loss agree', () => {
  const rng = new Rng(5);
  const img = randn(rng, [4, 3]);
  const txt = randn(rng, [4, 3]);
  const s = tf.scalar(7);
  const b = tf.scalar(-2);
  const loss = new SigLipLoss();
  const x = img.arraySync() as number[][];
  const y = txt.arraySync() as number[][];
  const logsig = (z: number) => (z >= 0 ? -Math.log1p(Math.exp(-z)) : z - Math.log1p(Math.exp(z)));
  for (const negativeOnly of [false, true]) {
    let want = 0;
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) {
        const logit = 7 * x[i].reduce((acc, v, k) => acc + v * y[j][k], 0) - 2;
        want -= logsig((i === j && !negativeOnly ? 1 : -1) * logit);
      }
    }
    assertClose(take(loss.pairLoss(img, txt, s, b, negativeOnly)), [want / 4], 1e-5, 1e-5, `pairLoss negativeOnly=${negativeOnly}`);
  }
  tf.dispose([img, txt, s, b]);
});

testOnBackends('SigLipLoss stays finite with logit_scale 100 and features of norm 1e3', async () => {
  const rng = new Rng(9);
  const img = randn(rng, [5, 8], 400);
  const txt = randn(rng, [5, 8], 400);
  const s = tf.scalar(100);
  const b = tf.scalar(-10);
  const r = await new SigLipLoss().lossAndGrads({ image_features: img, text_features: txt, logit_scale: s, logit_bias: b });
  for (const [k, t] of Object.entries({ ...r.losses, ...r.grads })) {
    const v = take(t!);
    assert.ok(v.every(Number.isFinite), `${k} is not finite: ${v.slice(0, 4)}`);
  }
  take(r.total);
  tf.dispose([img, txt, s, b]);
});

test('SigLipLoss rejects an unknown --loss-dist-impl', () => {
  assert.throws(() => new SigLipLoss({ distImpl: 'ring' as never }), /unknown distImpl 'ring'.*bidir, shift, reduce, gather/);
});

// Σ_r L_r = world · L_global for the sigmoid loss, and every exchange carries its gradient back,
// so (after DDP's averaging) each rank's gradients / world equal the single-process gradients.
for (const world of [2, 3, 4]) {
  testOnBackends(`SigLipLoss on a simulated world of ${world}: every dist impl reproduces the single-process loss and gradients`, async () => {
    const n = 3;
    const d = 6;
    const rng = new Rng(200 + world);
    const allImg = l2normalize(randn(rng, [world * n, d]));
    const allTxt = l2normalize(randn(rng, [world * n, d]));
    const s = tf.scalar(10);
    const b = tf.scalar(-3);
    const global = await new SigLipLoss().lossAndGrads({ image_features: allImg, text_features: allTxt, logit_scale: s, logit_bias: b });
    const gLoss = take(global.total)[0];
    const gImg = take(global.grads.image_features!);
    const gTxt = take(global.grads.text_features!);
    const gScale = take(global.grads.logit_scale!)[0];
    const gBias = take(global.grads.logit_bias!)[0];
    tf.dispose(Object.values(global.losses));
    const imgData = allImg.dataSync();
    const txtData = allTxt.dataSync();
    for (const impl of SIGLIP_DIST_IMPLS) {
      const label = `world ${world} ${impl}`;
      const perRank = await new SimulatedWorld(world).run(async (c) => {
        const loss = new SigLipLoss({ collective: c, distImpl: impl });
        const img = tf.tensor(imgData.slice(c.rank * n * d, (c.rank + 1) * n * d), [n, d]);
        const txt = tf.tensor(txtData.slice(c.rank * n * d, (c.rank + 1) * n * d), [n, d]);
        const r = await loss.lossAndGrads({ image_features: img, text_features: txt, logit_scale: s, logit_bias: b });
        const out = {
          loss: take(r.total)[0],
          img: take(r.grads.image_features!),
          txt: take(r.grads.text_features!),
          scale: take(r.grads.logit_scale!)[0],
          bias: take(r.grads.logit_bias!)[0],
        };
        tf.dispose([img, txt, ...Object.values(r.losses)]);
        return out;
      });
      const mean = (k: 'loss' | 'scale' | 'bias') => perRank.reduce((acc, p) => acc + p[k], 0) / world;
      assertClose([mean('loss')], [gLoss], 1e-5, 1e-5, `${label} mean loss`);
      assertClose([mean('scale')], [gScale], 1e-5, 1e-4, `${label} mean d/d logit_scale`);
      assertClose([mean('bias')], [gBias], 1e-5, 1e-4, `${label} mean d/d logit_bias`);
      const cat = (k: 'img' | 'txt') => Float32Array.from(perRank.flatMap((p) => Array.from(p[k], (v) => v / world)));
      assertClose(cat('img'), gImg, 2e-6, 1e-4, `${label} d/d image_features`);
      assertClose(cat('txt'), gTxt, 2e-6, 1e-4, `${label} d/d text_features`);
    }
    tf.dispose([allImg, allTxt, s, b]);
  });
}
