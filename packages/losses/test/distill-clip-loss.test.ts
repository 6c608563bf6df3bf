import { tf } from '@openclip/engine';
import { DistillClipLoss } from '../src/distill-clip-loss.js';
import { ClipLoss } from '../src/clip-loss.js';
import { SimulatedWorld } from '../test-support/simulated-world.js';
import { Rng } from '@openclip/engine';
import { assertClose, l2normalize, lossFixture, randn, take, testOnBackends } from '../test-support/loss-fixtures.js';

// Fixture case `losses`: DistillClipLoss()(image_features, text_features, logit_scale,
//   dist_image_features, dist_text_features, dist_logit_scale); grads are of the sum.
testOnBackends('DistillClipLoss matches the OpenCLIP fixture (contrastive, distill, gradients of the sum)', async () => {
  const fx = lossFixture();
  const tol = fx.tolerance;
  const names = ['image_features', 'text_features', 'logit_scale', 'dist_image_features', 'dist_text_features', 'dist_logit_scale'] as const;
  const t = Object.fromEntries(names.map((k) => [k, fx.tensor(`inputs.${k}`)])) as Record<(typeof names)[number], tf.Tensor>;
  const loss = new DistillClipLoss();
  const r = await loss.lossAndGrads(t);
  assertClose(take(r.losses.contrastive_loss), [fx.json.values['distill_loss.contrastive']], tol.value_atol, tol.value_rtol, 'distill_loss.contrastive');
  assertClose(take(r.losses.distill_loss), [fx.json.values['distill_loss.distill']], tol.value_atol, tol.value_rtol, 'distill_loss.distill');
  assertClose(take(r.grads.image_features!), fx.values('distill_loss.grad_image_features'), tol.grad_atol, tol.grad_rtol, 'distill_loss.grad_image_features');
  assertClose(take(r.grads.text_features!), fx.values('distill_loss.grad_text_features'), tol.grad_atol, tol.grad_rtol, 'distill_loss.grad_text_features');
  tf.dispose([r.total, r.grads.logit_scale!]);
  tf.dispose(Object.values(t));
});

testOnBackends('DistillClipLoss on a simulated world of 2: contrastive part equals ClipLoss, teacher gathered without gradient', async () => {
  const world = 2;
  const n = 3;
  const rng = new Rng(31);
  const feats = [0, 1, 2, 3].map(() => l2normalize(randn(rng, [world * n, 8])));
  const data = feats.map((f) => f.dataSync());
  const s = tf.scalar(9);
  const ts = tf.scalar(20);
  // With local loss + gather-with-grad, Σ_r L_r / world is the global loss.
  const global = await new DistillClipLoss().lossAndGrads({
    image_features: feats[0], text_features: feats[1], logit_scale: s, dist_image_features: feats[2], dist_text_features: feats[3], dist_logit_scale: ts,
  });
  const results = await new SimulatedWorld(world).run(async (c) => {
    const part = (i: number) => tf.tensor(data[i].slice(c.rank * n * 8, (c.rank + 1) * n * 8), [n, 8]);
    const [img, txt, dimg, dtxt] = [0, 1, 2, 3].map(part);
    const r = await new DistillClipLoss({ collective: c, localLoss: true, gatherWithGrad: true }).lossAndGrads({
      image_features: img, text_features: txt, logit_scale: s, dist_image_features: dimg, dist_text_features: dtxt, dist_logit_scale: ts,
    });
    const clip = await new ClipLoss({ collective: c, localLoss: true, gatherWithGrad: true }).lossAndGrads({ image_features: img, text_features: txt, logit_scale: s });
    const out = { distill: take(r.losses.distill_loss)[0], contrastive: take(r.losses.contrastive_loss)[0], clip: take(clip.total)[0], img: take(r.grads.image_features!) };
    tf.dispose([r.total, r.grads.text_features!, r.grads.logit_scale!, clip.grads.image_features!, clip.grads.text_features!, clip.grads.logit_scale!, ...Object.values(clip.losses), img, txt, dimg, dtxt]);
    return out;
  });
  const gDistill = take(global.losses.distill_loss)[0];
  const gImg = take(global.grads.image_features!);
  for (const o of results) assertClose([o.contrastive], [o.clip], 1e-6, 1e-6, 'contrastive part');
  assertClose([(results[0].distill + results[1].distill) / world], [gDistill], 1e-6, 1e-5, 'mean distill loss vs global');
  assertClose(Float32Array.from(results.flatMap((o) => Array.from(o.img, (v) => v / world))), gImg, 2e-6, 1e-4, 'Σ grads / world vs global');
  tf.dispose([global.total, global.losses.contrastive_loss, global.grads.text_features!, global.grads.logit_scale!, s, ts, ...feats]);
});
