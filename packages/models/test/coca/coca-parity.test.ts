import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf, toInt32 } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import { referenceManifest } from '@openclip/test-config';
import { readModelConfigFile } from '../../src/config/registry.js';
import { createModel } from '../../src/model/create.js';
import { asFloat, asTokens, compare, fixtureImages, keyOrder, modelCase, modelCaseNames, readAll } from '../../test-support/reference-models.js';
import { CoCa } from '../../src/coca/coca.js';

// Parity of CoCa with OpenCLIP 3.1.0 on every 'coca' case of the manifest (today coca_tiny):
// features, captioning tokens, caption logits, the CoCaLoss terms recomputed from our logits and
// greedy generate(), on cpu and wasm.

const BACKENDS = (process.env.OPENCLIP_TEST_BACKENDS ?? 'cpu,wasm').split(',');

function data(t: Tensor): Float32Array {
  return t.dataSync() as Float32Array;
}

/** ClipLoss for one rank: mean of the image→text and text→image cross-entropies on the diagonal. */
function clipLoss(img: Float32Array, txt: Float32Array, n: number, e: number, scale: number): number {
  const logits = (i: number, j: number) => {
    let s = 0;
    for (let k = 0; k < e; k++) s += img[i * e + k]! * txt[j * e + k]!;
    return scale * s;
  };
  let total = 0;
  for (const dir of [0, 1]) {
    for (let i = 0; i < n; i++) {
      const row = Array.from({ length: n }, (_, j) => (dir === 0 ? logits(i, j) : logits(j, i)));
      const m = Math.max(...row);
      total += m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0)) - row[i]!;
    }
  }
  return total / (2 * n);
}

const CASES = modelCaseNames('coca');
if (CASES.skip) test('CoCa parity with OpenCLIP 3.1.0', { skip: CASES.skip }, () => {});
for (const backend of BACKENDS) for (const name of CASES.names) {
  test(`${name} matches OpenCLIP 3.1.0 on ${backend}`, async () => {
    await initEngine({ backend });
    const c = modelCase(name);
    const extra = referenceManifest().cases.find((x: { id: string }) => x.id === c.id).extra;
    const model = createModel(readModelConfigFile(c.config), { initWeights: false });
    assert.ok(model instanceof CoCa, 'a config with custom_text and multimodal_cfg builds CoCa');
    const weights = readAll(c.weights);
    const report = model.loadStateDict(weights, { strict: true, source: c.weights });
    assert.equal(report.loaded.length, weights.size);
    assert.deepEqual([...model.stateDict().keys()], JSON.parse(keyOrder(c.weights)), 'state_dict order equals PyTorch');
    assert.equal(model.numParams(), c.nParams, 'parameter count equals sum(p.numel()) of the PyTorch model');

    const ref = readAll(c.outputs);
    const images = fixtureImages(c);
    const tokens = asTokens(ref.get('inputs.text_tokens')!);
    const before = tf.memory().numTensors;
    const t = c.tolerance;
    const errors: Record<string, number> = {};
    const check = (key: string, got: ArrayLike<number>, atol: number, rtol = 0) => {
      const want = asFloat(ref.get(key)!);
      const r = compare(got, want, atol, rtol);
      errors[key] = r.maxAbs;
      assert.ok(r.ok, `${name}/${key} on ${backend}: max abs error ${r.maxAbs} exceeds atol ${atol} rtol ${rtol} (first at ${r.worst})`);
    };

    // Encoders
    const img = model.encodeImageWithTokens(images, { normalize: false });
    const txt = model.encodeTextWithTokens(tokens, { normalize: false });
    const imgN = model.encodeImage(images);
    const txtN = model.encodeText(tokens);
    check('image_features', data(img.latent), t.features_atol, t.features_rtol);
    check('image_embs', data(img.embs), t.features_atol, t.features_rtol);
    check('text_features', data(txt.latent), t.features_atol, t.features_rtol);
    check('text_token_embs', data(txt.embs), t.features_atol, t.features_rtol);
    check('encode_image', data(imgN), t.normalized_atol);
    check('encode_text', data(txtN), t.normalized_atol);
    check('image_features_normalized', data(imgN), t.normalized_atol);
    check('text_features_normalized', data(txtN), t.normalized_atol);
    const scale = tf.exp(model.logitScale);
    check('logit_scale', data(model.logitScale), 1e-7);
    check('logit_scale_exp', data(scale), 1e-6, 1e-6);
    const lpi = tf.tidy(() => tf.mul(scale, tf.matMul(imgN, txtN, false, true)));
    check('logits_per_image', data(lpi), t.logits_atol);
    const lpt = tf.transpose(lpi);
    check('logits_per_text', data(lpt), t.logits_atol);
    tf.dispose([img.latent, img.embs, txt.latent, txt.embs, imgN, txtN, scale, lpi, lpt]);

    // Caption forward on the first P pairs (teacher forcing), P, L and V from the recorded logits shape
    const [P, L, V] = extra.caption.logits_shape as [number, number, number];
    const lossCfg = extra.caption.coca_loss;
    const img2 = tf.slice(images, [0, 0, 0, 0], [P, -1, -1, -1]);
    const tok2 = tf.slice(tokens, [0, 0], [P, -1]);
    const out = model.forward(img2, tok2);
    assert.deepEqual(out.logits!.shape, [P, L, V]);
    const labels = out.labels!.dataSync() as Int32Array;
    assert.deepEqual(Array.from(labels), Array.from(toInt32(ref.get('caption.labels')!, 'caption.labels')));
    check('caption.image_features', data(out.imageFeatures!), t.normalized_atol);
    check('caption.text_features', data(out.textFeatures!), t.normalized_atol);
    const logits = data(out.logits!);
    const ids = Array.from(toInt32(ref.get('caption.logits_vocab_slice_ids')!, 'ids'));
    const slice = new Float32Array(P * L * ids.length);
    const atLabel = new Float32Array(P * L);
    const lse = new Float32Array(P * L);
    const max = new Float32Array(P * L);
    const argmax = new Int32Array(P * L);
    let captionLoss = 0;
    let counted = 0;
    for (let r = 0; r < P * L; r++) {
      const row = logits.subarray(r * V, (r + 1) * V);
      ids.forEach((id, j) => (slice[r * ids.length + j] = row[id]!));
      let m = -Infinity;
      let am = 0;
      for (let v = 0; v < V; v++) if (row[v]! > m) { m = row[v]!; am = v; }
      let s = 0;
      for (let v = 0; v < V; v++) s += Math.exp(row[v]! - m);
      lse[r] = m + Math.log(s);
      max[r] = m;
      argmax[r] = am;
      atLabel[r] = row[labels[r]!]!;
      if (labels[r] !== lossCfg.pad_id) {
        captionLoss += lse[r]! - atLabel[r]!;
        counted++;
      }
    }
    check('caption.logits_vocab_slice', slice, t.logits_atol);
    check('caption.logits_pos0_full', Float32Array.from({ length: P * V }, (_, i) => logits[(Math.floor(i / V) * L) * V + (i % V)]!), t.logits_atol);
    check('caption.logits_at_label', atLabel, t.logits_atol);
    check('caption.logsumexp', lse, t.logits_atol);
    check('caption.max', max, t.logits_atol);
    assert.deepEqual(Array.from(argmax), Array.from(toInt32(ref.get('caption.argmax')!, 'caption.argmax')), 'caption argmax');
    // CoCaLoss (the recorded caption and contrastive weights, pad_id ignored) recomputed from our outputs.
    const caption = (lossCfg.caption_loss_weight * captionLoss) / counted;
    const contrastive = lossCfg.clip_loss_weight * clipLoss(data(out.imageFeatures!), data(out.textFeatures!), P, out.imageFeatures!.shape[1]!, data(out.logitScale)[0]!);
    check('caption.coca_loss.caption', [caption], 0, 1e-5);
    check('caption.coca_loss.contrastive', [contrastive], 0, 1e-5);
    tf.dispose([img2, tok2, out.imageFeatures!, out.textFeatures!, out.logitScale, out.logits!, out.labels!]);

    // Greedy generation (top_k with k = 1) reproduces the token ids exactly; 'greedy' is the same loop.
    const g = extra.generate;
    const one = tf.slice(images, [g.image_index, 0, 0, 0], [1, -1, -1, -1]);
    // The keyword arguments of the recorded call, e.g. "model.generate(image, generation_type='top_k', top_k=1, seq_len=30, ...)".
    const kw = Object.fromEntries([...String(g.call).matchAll(/(\w+)=([^,)]+)/g)].map((m) => [m[1], m[2].replace(/^'|'$/g, '')]));
    const num = (k: string) => {
      if (!(k in kw)) throw new Error(`${c.id}: the generate call '${g.call}' has no ${k}`);
      return Number(kw[k]);
    };
    assert.equal(kw.generation_type, 'top_k', `${c.id}: the recorded generate call is greedy top_k`);
    const ids1 = await model.generate(one, { generationType: 'top_k', topK: num('top_k'), seqLen: num('seq_len'), minSeqLen: num('min_seq_len'), temperature: num('temperature'), repetitionPenalty: num('repetition_penalty') });
    assert.deepEqual(ids1, [g.output_ids]);
    if (num('top_k') === 1) {
      const ids2 = await model.generate(one, { generationType: 'greedy', seqLen: num('seq_len'), minSeqLen: num('min_seq_len') });
      assert.deepEqual(ids2, [g.output_ids]);
    }
    one.dispose();

    assert.equal(tf.memory().numTensors, before, 'inference leaked tensors');
    console.log(`parity ${name} ${backend} ${JSON.stringify(Object.fromEntries(Object.entries(errors).map(([k, v]) => [k, Number(v.toExponential(2))])))}`);
    images.dispose();
    tokens.dispose();
    model.dispose();
  });
}
