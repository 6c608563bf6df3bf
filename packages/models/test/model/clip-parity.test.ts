import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import { readModelConfigFile } from '../../src/config/registry.js';
import { createModel } from '../../src/model/create.js';
import { CLIP } from '../../src/model/clip.js';
import { asFloat, asTokens, compare, fixtureImages, keyOrder, modelCase, modelCaseNames, readAll } from '../../test-support/reference-models.js';

// Parity of CLIP / CustomTextCLIP with OpenCLIP 3.1.0 on the reference fixtures (models/*), on
// the cpu and wasm backends, within the manifest's tolerances. Max errors are printed for the README.

// Every 'clip_model' case of the manifest (today vit_tiny, vit_tiny_quickgelu, resnet_tiny, vit_variant_a, vit_variant_b).
const CASES = modelCaseNames('clip_model');
const BACKENDS = (process.env.OPENCLIP_TEST_BACKENDS ?? 'cpu,wasm').split(',');

if (CASES.skip) test('CLIP parity with OpenCLIP 3.1.0', { skip: CASES.skip }, () => {});
for (const backend of BACKENDS) {
  for (const name of CASES.names) {
    test(`${name} matches OpenCLIP 3.1.0 on ${backend}`, async () => {
      await initEngine({ backend });
      const c = modelCase(name);
      const model = createModel(readModelConfigFile(c.config), { initWeights: false }) as CLIP;
      assert.equal(model.modelClass, c.modelClass);
      const weights = readAll(c.weights);
      const report = model.loadStateDict(weights, { strict: true, source: c.weights });
      assert.equal(report.loaded.length, weights.size);
      assert.equal(model.numParams(), c.nParams, 'parameter count equals sum(p.numel()) of the PyTorch model');
      // state dict order and key set equal PyTorch's
      assert.deepEqual([...model.stateDict().keys()], JSON.parse(keyOrder(c.weights)));
      const ref = readAll(c.outputs);
      const images = fixtureImages(c);
      const tokens = asTokens(ref.get('inputs.text_tokens')!);
      const before = tf.memory().numTensors;

      const debug = new Map<string, Float32Array>();
      const hook = (prefix: string) => (n: string, x: Tensor) => {
        const first3 = tf.slice(x, [0], [3]);
        debug.set(`debug.${prefix}.${n}`, first3.dataSync() as Float32Array);
        first3.dispose();
      };
      const img = model.encodeImage(images, {}, ref.has('debug.image.after_ln_pre') ? hook('image') : undefined);
      const txt = model.encodeText(tokens, {}, ref.has('debug.text.transformer_in') ? hook('text') : undefined);
      const out = model.forward(images, tokens);
      // encode*(normalize) is checked on the fast backends; the pure-JS cpu backend reuses forward's normalised features.
      const imgN = backend === 'cpu' ? out.imageFeatures!.clone() : model.encodeImage(images, { normalize: true });
      const txtN = backend === 'cpu' ? out.textFeatures!.clone() : model.encodeText(tokens, { normalize: true });
      const { logitsPerImage, logitsPerText } = model.getLogits(images, tokens);
      const t = c.tolerance;
      const rows: [string, Tensor | Float32Array, number, number][] = [
        ['image_features', img, t.features_atol, t.features_rtol],
        ['text_features', txt, t.features_atol, t.features_rtol],
        ['image_features_normalized', imgN, t.normalized_atol, 0],
        ['text_features_normalized', txtN, t.normalized_atol, 0],
        ['forward.image_features', out.imageFeatures!, t.normalized_atol, 0],
        ['forward.text_features', out.textFeatures!, t.normalized_atol, 0],
        ['forward.logit_scale', out.logitScale, 1e-6, 1e-6],
        ['logit_scale', model.logitScale, 1e-7, 0],
        ['logits_per_image', logitsPerImage, t.logits_atol, 0],
        ['logits_per_text', logitsPerText, t.logits_atol, 0],
      ];
      if (ref.has('logit_bias')) {
        rows.push(['logit_bias', model.logitBias!, 1e-7, 0], ['forward.logit_bias', out.logitBias!, 1e-7, 0]);
      }
      for (const [k, v] of debug) rows.push([k, v, t.features_atol, t.features_rtol]);
      const errors: Record<string, number> = {};
      for (const [key, got, atol, rtol] of rows) {
        const want = ref.get(key);
        assert.ok(want, `fixture ${name} has no ${key}`);
        const g = got instanceof Float32Array ? got : (got.dataSync() as Float32Array);
        const r = compare(g, asFloat(want), atol, rtol);
        errors[key] = r.maxAbs;
        assert.ok(r.ok, `${name}/${key} on ${backend}: max abs error ${r.maxAbs} exceeds atol ${atol} rtol ${rtol} (first at ${r.worst})`);
      }
      if (ref.has('debug.image.after_ln_pre')) assert.ok(debug.size >= 8, 'debug activations were captured');
      tf.dispose([img, txt, imgN, txtN, logitsPerImage, logitsPerText, out.imageFeatures!, out.textFeatures!, out.logitScale]);
      if (out.logitBias) out.logitBias.dispose();
      assert.equal(tf.memory().numTensors, before, 'inference leaked tensors');
      console.log(`parity ${name} ${backend} ${JSON.stringify(Object.fromEntries(Object.entries(errors).map(([k, v]) => [k, Number(v.toExponential(2))])))}`);
      images.dispose();
      tokens.dispose();
      model.dispose();
    });
  }
}
