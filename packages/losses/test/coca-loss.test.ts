import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, tf } from '@openclip/engine';
import { ClipLoss } from '../src/clip-loss.js';
import { CoCaLoss } from '../src/coca-loss.js';
import { valueAndGradsOf } from '../src/loss-api.js';
import { SimulatedWorld } from '../test-support/simulated-world.js';
import { assertClose, l2normalize, lossFixture, randn, take, testOnBackends } from '../test-support/loss-fixtures.js';

// Fixture case `losses`: CoCaLoss(caption_loss_weight=2.0, clip_loss_weight=1.0, pad_id=0)(
//   image_features, text_features, caption_logits, caption_labels, logit_scale).
testOnBackends('CoCaLoss matches the OpenCLIP fixture (contrastive, caption, d/d caption logits)', async () => {
  const fx = lossFixture();
  const tol = fx.tolerance;
  const img = fx.tensor('inputs.image_features');
  const txt = fx.tensor('inputs.text_features');
  const scale = fx.tensor('inputs.logit_scale');
  const logits = fx.tensor('inputs.caption_logits');
  const labels = fx.tensor('inputs.caption_labels');
  assert.ok(Array.from(labels.dataSync()).includes(0), 'the fixture labels contain pad tokens');
  const loss = new CoCaLoss({ captionLossWeight: 2.0, clipLossWeight: 1.0, padId: 0 });
  const r = await loss.lossAndGrads({ image_features: img, text_features: txt, logit_scale: scale, logits, labels });
  assertClose(take(r.losses.contrastive_loss), [fx.json.values['coca_loss.contrastive']], tol.value_atol, tol.value_rtol, 'coca_loss.contrastive');
  assertClose(take(r.losses.caption_loss), [fx.json.values['coca_loss.caption']], tol.value_atol, tol.value_rtol, 'coca_loss.caption');
  assertClose(take(r.grads.logits!), fx.values('coca_loss.grad_caption_logits'), tol.grad_atol, tol.grad_rtol, 'coca_loss.grad_caption_logits');
  // The contrastive part is ClipLoss's (weight 1).
  assertClose(take(r.grads.image_features!), fx.values('clip_loss.grad_image_features'), tol.grad_atol, tol.grad_rtol, 'coca d/d image_features');
  tf.dispose([r.total, r.grads.text_features!, r.grads.logit_scale!]);

  // call() gives the same dict; clip_loss_weight 0 drops the contrastive term.
  const d = loss.call({ image_features: img, text_features: txt, logit_scale: scale, logits, labels });
  assertClose(take(d.caption_loss), [fx.json.values['coca_loss.caption']], tol.value_atol, tol.value_rtol, 'coca call caption');
  take(d.contrastive_loss);
  const noClip = new CoCaLoss({ captionLossWeight: 1.0, clipLossWeight: 0 });
  const z = valueAndGradsOf((lg) => noClip.call({ image_features: img, text_features: txt, logit_scale: scale, logits: lg, labels }), [logits]);
  assert.equal(take(z.losses.contrastive_loss)[0], 0);
  assertClose(take(z.losses.caption_loss), [fx.json.values['coca_loss.caption'] / 2], tol.value_atol, tol.value_rtol, 'caption loss with weight 1');
  tf.dispose([z.total, ...z.grads]);
  tf.dispose([img, txt, scale, logits, labels]);
});

test('CoCaLoss rejects labels outside the vocabulary and missing weights', async () => {
  const { initEngine } = await import('@openclip/engine');
  await initEngine({ backend: 'cpu' });
  const loss = new CoCaLoss({ captionLossWeight: 2, clipLossWeight: 1 });
  const img = tf.ones([2, 4]);
  const logits = tf.zeros([2, 3, 5]);
  const labels = tf.tensor2d([[1, 2, 7], [0, 0, 0]], [2, 3], 'int32');
  assert.throws(() => loss.call({ image_features: img, text_features: img, logit_scale: tf.scalar(1), logits, labels }), /token id 7 at flat position 2, outside the 5 caption logits/);
  assert.throws(() => new CoCaLoss({ clipLossWeight: 1 } as never), /captionLossWeight must be a finite number/);
  tf.dispose([img, logits, labels]);
});

testOnBackends('CoCaLoss on a simulated world of 2 (local loss + gather with grad): contrastive gradients match ClipLoss, caption stays local', async () => {
  const world = 2;
  const n = 3;
  const rng = new Rng(77);
  const allImg = l2normalize(randn(rng, [world * n, 8]));
  const allTxt = l2normalize(randn(rng, [world * n, 8]));
  const allLogits = randn(rng, [world * n, 4, 6]);
  const labelData = Int32Array.from({ length: world * n * 4 }, (_, i) => (i % 5 === 4 ? 0 : 1 + (i % 5)));
  const s = tf.scalar(12);
  const imgData = allImg.dataSync() as Float32Array;
  const txtData = allTxt.dataSync() as Float32Array;
  const logitData = allLogits.dataSync() as Float32Array;
  const results = await new SimulatedWorld(world).run(async (c) => {
    const slice = <T extends Float32Array | Int32Array>(a: T, per: number) => a.slice(c.rank * n * per, (c.rank + 1) * n * per) as T;
    const img = tf.tensor(slice(imgData, 8), [n, 8]);
    const txt = tf.tensor(slice(txtData, 8), [n, 8]);
    const logits = tf.tensor(slice(logitData, 24), [n, 4, 6]);
    const labels = tf.tensor(slice(labelData, 4), [n, 4], 'int32');
    const coca = new CoCaLoss({ collective: c, localLoss: true, gatherWithGrad: true, captionLossWeight: 2, clipLossWeight: 1 });
    const clip = new ClipLoss({ collective: c, localLoss: true, gatherWithGrad: true });
    const a = await coca.lossAndGrads({ image_features: img, text_features: txt, logit_scale: s, logits, labels });
    const b = await clip.lossAndGrads({ image_features: img, text_features: txt, logit_scale: s });
    const captionOnly = tf.tidy(() => coca.captionLoss(logits, labels));
    const out = {
      imgA: take(a.grads.image_features!),
      imgB: take(b.grads.image_features!),
      contrastiveA: take(a.losses.contrastive_loss)[0],
      contrastiveB: take(b.losses.contrastive_loss)[0],
      caption: take(a.losses.caption_loss)[0],
      captionLocal: take(captionOnly)[0],
    };
    tf.dispose([a.total, b.total, a.grads.text_features!, a.grads.logit_scale!, a.grads.logits!, b.grads.text_features!, b.grads.logit_scale!, img, txt, logits, labels]);
    return out;
  });
  for (const [r, o] of results.entries()) {
    assertClose(o.imgA, o.imgB, 1e-6, 1e-5, `rank ${r} contrastive gradient`);
    assertClose([o.contrastiveA], [o.contrastiveB], 1e-6, 1e-6, `rank ${r} contrastive loss`);
    assertClose([o.caption], [o.captionLocal], 1e-6, 1e-6, `rank ${r} caption loss is local`);
  }
  tf.dispose([allImg, allTxt, allLogits, s]);
});
