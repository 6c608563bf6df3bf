import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import { readModelConfigFile } from '../src/config/registry.js';
import { createModel } from '../src/model/create.js';
import { adaptStateDict } from '../src/factory/factory.js';
import type { CLIP } from '../src/model/clip.js';
import { asFloat, asTokens, compare, keyOrder, readAll } from './reference-models.js';
import { registerTimmModel } from '../src/towers/timm/timm-registry.js';
import type { TimmCase } from './timm-fixtures.js';

// Parity of timm towers (in OpenCLIP's TimmModel) with OpenCLIP 3.1.0 + timm 1.0.28 on the fixtures of
// a generator under tools/fixtures/: features, logits, per-stage trunk activations, gradients of every
// parameter, state-dict keys and order, the lock_image_tower groups and --force-image-size. Every
// name, size and tolerance comes from the manifest.

const BACKENDS = (process.env.OPENCLIP_TEST_BACKENDS ?? 'cpu,wasm').split(',');

export function buildTimmCase(c: TimmCase): CLIP {
  registerTimmModel(c.timm.name, c.timm);
  return createModel(readModelConfigFile(c.config), { initWeights: false }) as CLIP;
}

/** Registers the parity tests of one fixture set. */
export function timmParitySuite(label: string, cases: TimmCase[], skip: string | false): void {
  if (skip) test(`${label} parity`, { skip }, () => {});

  for (const backend of BACKENDS) {
    for (const c of cases) {
      test(`${c.name} (timm ${c.timm.family}) matches OpenCLIP + timm on ${backend}`, async () => {
        await initEngine({ backend });
        const model = buildTimmCase(c);
        assert.equal(model.modelClass, c.modelClass);
        const weights = readAll(c.weights);
        const report = model.loadStateDict(weights, { strict: true, source: c.weights });
        assert.equal(report.loaded.length, c.stateDictKeys);
        assert.equal(model.numParams(), c.nParams, 'parameter count equals sum(p.numel()) of the PyTorch model');
        assert.deepEqual([...model.stateDict().keys()], JSON.parse(keyOrder(c.weights)), 'state_dict keys in PyTorch order');

        const ref = readAll(c.outputs);
        const pixels = ref.get('inputs.pixels')!;
        const images = tf.tensor4d(asFloat(pixels), pixels.shape as [number, number, number, number]);
        const tokens = asTokens(ref.get('inputs.text_tokens')!);
        const nDebug = Object.keys(c.tensors).filter((k) => k.startsWith('debug.image.')).map((k) => c.tensors[k].shape[0])[0] ?? 0;
        const before = tf.memory().numTensors;

        const debug = new Map<string, Float32Array>();
        if (nDebug > 0) {
          const head = tf.slice(images, [0], [nDebug]);
          const f = model.encodeImage(head, {}, (n: string, x: Tensor) => debug.set(`debug.image.${n}`, x.dataSync() as Float32Array));
          tf.dispose([head, f]);
        }
        const img = model.encodeImage(images);
        const txt = model.encodeText(tokens);
        const imgN = model.encodeImage(images, { normalize: true });
        const txtN = model.encodeText(tokens, { normalize: true });
        const { logitsPerImage, logitsPerText } = model.getLogits(images, tokens);
        const t = c.tolerance;
        const rows: [string, Tensor | Float32Array, number, number][] = [
          ['image_features', img, t.features_atol, t.features_rtol],
          ['text_features', txt, t.features_atol, t.features_rtol],
          ['image_features_normalized', imgN, t.normalized_atol, 0],
          ['text_features_normalized', txtN, t.normalized_atol, 0],
          ['logits_per_image', logitsPerImage, t.logits_atol, 0],
        ];
        for (const k of Object.keys(c.tensors).filter((x) => x.startsWith('debug.image.'))) {
          assert.ok(debug.has(k), `trunk activation ${k} was not produced`);
          rows.push([k, debug.get(k)!, t.activations_atol, t.features_rtol]);
        }
        const errors: Record<string, number> = {};
        for (const [key, got, atol, rtol] of rows) {
          const want = ref.get(key);
          assert.ok(want, `fixture ${c.name} has no ${key}`);
          const g = got instanceof Float32Array ? got : (got.dataSync() as Float32Array);
          const r = compare(g, asFloat(want), atol, rtol);
          errors[key] = r.maxAbs;
          assert.ok(r.ok, `${c.name}/${key} on ${backend}: max abs error ${r.maxAbs} exceeds atol ${atol} rtol ${rtol} (first at ${r.worst})`);
        }
        tf.dispose([img, txt, imgN, txtN, logitsPerImage, logitsPerText]);
        assert.equal(tf.memory().numTensors, before, 'inference leaked tensors');

        // Gradients of sum(encode_image·c_image) + sum(encode_text·c_text) for every parameter.
        const cImg = tf.tensor(asFloat(ref.get('loss.c_image')!), ref.get('loss.c_image')!.shape);
        const cTxt = tf.tensor(asFloat(ref.get('loss.c_text')!), ref.get('loss.c_text')!.shape);
        // logit_scale / logit_bias do not enter this function (PyTorch leaves their .grad None).
        const trainable = [...model.params.entries()].filter(([n, v]) => v.trainable && n !== 'logit_scale' && n !== 'logit_bias');
        const { value, grads } = tf.variableGrads(
          () => tf.add(tf.sum(tf.mul(model.encodeImage(images), cImg)), tf.sum(tf.mul(model.encodeText(tokens), cTxt))) as tf.Scalar,
          trainable.map(([, v]) => v),
        );
        const lossErr = Math.abs(value.dataSync()[0] - asFloat(ref.get('loss.value')!)[0]);
        errors['loss.value'] = lossErr;
        let worstGrad = 0;
        const gradKeys = Object.keys(c.tensors).filter((k) => k.startsWith('grad.'));
        assert.equal(gradKeys.length, trainable.length, 'a gradient for every trainable parameter');
        for (const [name, v] of trainable) {
          const want = ref.get(`grad.${name}`);
          assert.ok(want, `fixture has no gradient for ${name}`);
          const g = grads[v.name];
          assert.ok(g, `no gradient reached ${name}`);
          const r = compare(g.dataSync() as Float32Array, asFloat(want), t.grad_atol, t.grad_rtol);
          worstGrad = Math.max(worstGrad, r.maxAbs);
          assert.ok(r.ok, `${c.name} grad ${name} on ${backend}: max abs error ${r.maxAbs} (first at ${r.worst})`);
        }
        errors.grad_max = worstGrad;
        tf.dispose([value, cImg, cTxt, ...Object.values(grads)]);

        // Train mode (BatchNorm on batch statistics, running statistics updated once), where the fixture has it.
        const trainRef = ref.get('train.image_features');
        if (trainRef) {
          model.train();
          const f = model.encodeImage(images);
          model.eval();
          const r = compare(f.dataSync() as Float32Array, asFloat(trainRef), t.features_atol, t.features_rtol);
          errors['train.image_features'] = r.maxAbs;
          assert.ok(r.ok, `${c.name} train-mode image features on ${backend}: max abs error ${r.maxAbs}`);
          f.dispose();
          for (const [k, want] of ref) {
            if (!k.startsWith('train.running_var.')) continue;
            const name = `${k.slice('train.running_var.'.length)}.running_var`;
            const got = model.stateDict().get(name);
            assert.ok(got, `no buffer ${name}`);
            const rv = compare(got.dataSync() as Float32Array, asFloat(want), t.features_atol, t.features_rtol);
            assert.ok(rv.ok, `${name} after one train-mode forward: max abs error ${rv.maxAbs}`);
          }
        }
        images.dispose();
        tokens.dispose();
        model.dispose();
        console.log(`parity ${c.name} ${backend} ${JSON.stringify(Object.fromEntries(Object.entries(errors).map(([k, v]) => [k, Number(v.toExponential(2))])))}`);
      });
    }
  }

  for (const c of cases) {
    test(`${c.name}: lock_image_tower(k) leaves the parameters OpenCLIP leaves trainable`, async () => {
      await initEngine({ backend: 'cpu' });
      for (const [k, want] of Object.entries(c.lockTrainable)) {
        const model = buildTimmCase(c);
        model.lockImageTower(Number(k));
        const got = [...model.params.entries()].filter(([n, v]) => n.startsWith('visual.') && v.trainable).map(([n]) => n);
        assert.deepEqual(got, want, `unlocked_groups=${k}`);
        model.dispose();
      }
    });
  }

  for (const c of cases.filter((x) => x.forceImageSize !== null)) {
    test(`${c.name}: forceImageSize ${c.forceImageSize} resamples pos_embed (or re-windows Swin) as timm's set_input_size after loading`, async () => {
      await initEngine({ backend: 'wasm' });
      registerTimmModel(c.timm.name, c.timm);
      const model = createModel(readModelConfigFile(c.config), { initWeights: false, forceImageSize: c.forceImageSize! }) as CLIP;
      model.loadStateDict(adaptStateDict(model, readAll(c.weights)), { strict: true, source: c.weights });
      const ref = readAll(c.outputs);
      const px = ref.get('force_size.pixels')!;
      const images = tf.tensor4d(asFloat(px), px.shape as [number, number, number, number]);
      const f = model.encodeImage(images);
      const r = compare(f.dataSync() as Float32Array, asFloat(ref.get('force_size.image_features')!), c.tolerance.features_atol, c.tolerance.features_rtol);
      assert.ok(r.ok, `max abs error ${r.maxAbs}`);
      console.log(`force-size ${c.name} ${c.forceImageSize} max abs ${r.maxAbs.toExponential(2)}`);
      tf.dispose([f, images]);
      model.dispose();
    });
  }
}
