import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import { readModelConfigFile } from '../../src/config/registry.js';
import { asTokens, fixtureImages, modelCase, modelCaseNames, readAll } from '../../test-support/reference-models.js';
import { CoCa } from '../../src/coca/coca.js';

// CoCa's forward runs under tf.variableGrads: a CoCaLoss-shaped objective (caption cross-entropy
// ignoring pad + contrastive) has finite gradients for every tower, and they agree with central
// finite differences on a few scalars.

function cocaLoss(model: CoCa, images: Tensor, tokens: Tensor): tf.Scalar {
  return tf.tidy(() => {
    const out = model.forward(images, tokens);
    const logits = out.logits!;
    const labels = out.labels!;
    const [b, l, v] = logits.shape as [number, number, number];
    const logp = tf.logSoftmax(tf.reshape(logits, [b * l, v]));
    const flat = tf.reshape(labels, [b * l]);
    const picked = tf.sum(tf.mul(logp, tf.oneHot(flat, v)), 1);
    const valid = tf.cast(tf.notEqual(flat, 0), 'float32');
    const caption = tf.div(tf.neg(tf.sum(tf.mul(picked, valid))), tf.sum(valid));
    const sim = tf.mul(out.logitScale, tf.matMul(out.imageFeatures!, out.textFeatures!, false, true));
    const eye = tf.eye(b);
    const ce = (m: Tensor) => tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(m), eye), 1)));
    const contrastive = tf.div(tf.add(ce(sim), ce(tf.transpose(sim))), 2);
    return tf.add(tf.mul(caption, 2), contrastive) as tf.Scalar;
  });
}

// The first 'coca' case of the manifest (today coca_tiny).
const COCA = modelCaseNames('coca');

test('CoCa forward is differentiable (variableGrads) and matches finite differences', { skip: COCA.skip }, async () => {
  await initEngine({ backend: 'cpu' });
  const c = modelCase(COCA.names[0]);
  const model = new CoCa(readModelConfigFile(c.config), { initWeights: false });
  model.loadStateDict(readAll(c.weights));
  model.train();
  const all = fixtureImages(c);
  const ref = readAll(c.outputs);
  const allTok = asTokens(ref.get('inputs.text_tokens')!);
  const images = tf.slice(all, [0, 0, 0, 0], [2, -1, -1, -1]);
  // The first 16 token positions keep the caption logits small ([2, 15, vocab]).
  const tokens = tf.slice(allTok, [0, 0], [2, 16]);
  const before = tf.memory().numTensors;
  const { value, grads } = tf.variableGrads(() => cocaLoss(model, images, tokens));
  const named = new Map<string, Float32Array>();
  for (const [name, v] of model.params) {
    const g = grads[v.name];
    assert.ok(g, `no gradient for ${name}`);
    const d = g.dataSync() as Float32Array;
    assert.ok(d.every(Number.isFinite), `non-finite gradient for ${name}`);
    named.set(name, d);
  }
  const base = value.dataSync()[0]!;
  assert.ok(Number.isFinite(base));
  tf.dispose([value, ...Object.values(grads)]);
  assert.equal(tf.memory().numTensors, before, 'variableGrads leaked tensors');

  // Central differences on individual elements (float32, so a coarse step and a loose bound).
  const probes: [string, number][] = [['logit_scale', 0], ['text_decoder.ln_final.bias', 3], ['text.ln_final.weight', 1], ['visual.attn_pool.ln_q.bias', 2]];
  for (const [name, idx] of probes) {
    const v = model.params.get(name)!;
    const orig = v.dataSync().slice() as Float32Array;
    const eps = 1e-2;
    const at = (delta: number) => {
      const d = orig.slice();
      d[idx] += delta;
      v.assign(tf.tensor(d, v.shape));
      const l = cocaLoss(model, images, tokens);
      const x = l.dataSync()[0]!;
      l.dispose();
      return x;
    };
    const fd = (at(eps) - at(-eps)) / (2 * eps);
    v.assign(tf.tensor(orig, v.shape));
    const g = named.get(name)![idx]!;
    assert.ok(Math.abs(fd - g) <= 5e-3 + 0.05 * Math.abs(g), `${name}[${idx}]: analytic ${g} vs finite difference ${fd}`);
  }
  tf.dispose([all, allTok, images, tokens]);
  model.dispose();
});
