import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initEngine, tf, toInt32 } from '@openclip/engine';
import { fixtureSkip, referenceDir, referenceManifest } from '@openclip/test-config';
import { SimpleTokenizer } from '@openclip/tokenizer';
import { readModelConfigFile } from '../../src/config/registry.js';
import { createModel } from '../../src/model/create.js';
import { asFloat, compare, modelCase, readAll } from '../../test-support/reference-models.js';
import { IMAGENET_CLASSNAMES, OPENAI_IMAGENET_TEMPLATES, SIMPLE_IMAGENET_TEMPLATES } from '../../src/zero-shot/imagenet-metadata.js';
import { accuracy, buildZeroShotClassifier, formatTemplate, zeroShotLogits } from '../../src/zero-shot/zero-shot-classifier.js';

// build_zero_shot_classifier / zero-shot logits / accuracy() against the zeroshot fixture (vit_tiny).

const BACKENDS = (process.env.OPENCLIP_TEST_BACKENDS ?? 'cpu,wasm').split(',');

test('formatTemplate follows str.format for {} fields and brace escapes', () => {
  assert.equal(formatTemplate('a photo of a {}.', 'cat'), 'a photo of a cat.');
  assert.equal(formatTemplate('{0} and {}', 'x'), 'x and x');
  assert.equal(formatTemplate('{{literal}} {}', 'y'), '{literal} y');
  assert.equal(formatTemplate((c) => `art of ${c}`, 'z'), 'art of z');
  assert.throws(() => formatTemplate('a {name}', 'c'), /only '\{\}' fields/);
  assert.throws(() => formatTemplate('a } b', 'c'), /single '\}'/);
});

test('ImageNet metadata has OpenCLIP\'s sizes and entries', () => {
  assert.equal(IMAGENET_CLASSNAMES.length, 1000);
  assert.equal(OPENAI_IMAGENET_TEMPLATES.length, 80);
  assert.equal(SIMPLE_IMAGENET_TEMPLATES.length, 7);
  assert.equal(IMAGENET_CLASSNAMES[0], 'tench');
  assert.equal(IMAGENET_CLASSNAMES[999], 'toilet paper');
  for (const t of [...OPENAI_IMAGENET_TEMPLATES, ...SIMPLE_IMAGENET_TEMPLATES]) assert.ok(t.includes('{}'), t);
  // The simple set is a subset of the OpenAI set.
  for (const t of SIMPLE_IMAGENET_TEMPLATES) assert.ok(OPENAI_IMAGENET_TEMPLATES.includes(t), t);
});

test('accuracy counts targets within the top k', () => {
  // rows: target ranked 1st, 2nd, 3rd
  const logits = [3, 2, 1, 1, 3, 2, 2, 3, 1];
  assert.deepEqual(accuracy(logits, 3, [0, 2, 2], [1, 2, 3]), [1, 2, 3]);
  assert.throws(() => accuracy(logits, 3, [0, 5, 1]), /target\[1\] = 5/);
});

for (const backend of BACKENDS) {
  test(`buildZeroShotClassifier matches OpenCLIP on ${backend}`, { skip: fixtureSkip('zeroshot', ['zeroshot/zeroshot.json', 'zeroshot/zeroshot.safetensors']) }, async () => {
    await initEngine({ backend });
    const dir = referenceDir();
    const meta = JSON.parse(readFileSync(join(dir, 'zeroshot', 'zeroshot.json'), 'utf8'));
    const tol = referenceManifest().cases.find((x: { id: string }) => x.id === 'zeroshot').tolerance;
    const ref = readAll(join(dir, 'zeroshot', 'zeroshot.safetensors'));
    const c = modelCase(meta.model);
    const model = createModel(readModelConfigFile(c.config), { initWeights: false });
    model.loadStateDict(readAll(c.weights), { strict: true });
    const tokenizer = new SimpleTokenizer({ contextLength: c.cfg.text_cfg.context_length });
    // The texts the classifier embeds are exactly OpenCLIP's, in order.
    const texts = meta.classnames.flatMap((cn: string) => meta.templates.map((t: string) => formatTemplate(t, cn)));
    assert.deepEqual(texts, meta.texts_in_order);
    assert.deepEqual(Array.from(tokenizer.tokenize(texts).data), Array.from(toInt32(ref.get('text_tokens')!, 'text_tokens')));

    const before = tf.memory().numTensors;
    const progress: number[] = [];
    // 2 classes per batch exercises the batching (OpenCLIP's fixture used 10: one batch).
    const classifier = buildZeroShotClassifier(model, tokenizer, meta.classnames, meta.templates, { numClassesPerBatch: 2, onProgress: (d) => progress.push(d) });
    const nClasses = meta.classnames.length;
    assert.deepEqual(progress, Array.from({ length: Math.ceil(nClasses / 2) }, (_, i) => Math.min(2 * (i + 1), nClasses)));
    assert.deepEqual(classifier.shape, meta.classifier_shape);
    const w = classifier.dataSync() as Float32Array;
    const r1 = compare(w, asFloat(ref.get('classifier')!), tol.classifier_atol);
    assert.ok(r1.ok, `classifier max abs error ${r1.maxAbs}`);
    const single = buildZeroShotClassifier(model, tokenizer, meta.classnames, meta.templates);
    const r0 = compare(single.dataSync() as Float32Array, w, 1e-6);
    assert.ok(r0.ok, `batching changes the classifier by ${r0.maxAbs}`);

    const img = tf.tensor2d(asFloat(ref.get('image_features_normalized')!), ref.get('image_features_normalized')!.shape as [number, number]);
    const logits = zeroShotLogits(img, classifier);
    const l = logits.dataSync() as Float32Array;
    const r2 = compare(l, asFloat(ref.get('logits')!), tol.logits_atol);
    assert.ok(r2.ok, `logits max abs error ${r2.maxAbs}`);
    const target = Array.from(toInt32(ref.get('target')!, 'target'));
    assert.deepEqual(target, meta.target);
    const [top1, top3] = accuracy(l, meta.classnames.length, target, [1, 3]);
    assert.equal(top1, meta.accuracy.top1_correct);
    assert.equal(top3, meta.accuracy.top3_correct);
    tf.dispose([classifier, single, img, logits]);
    assert.equal(tf.memory().numTensors, before, 'leaked tensors');
    console.log(`parity zeroshot ${backend} classifier ${r1.maxAbs.toExponential(2)} logits ${r2.maxAbs.toExponential(2)}`);
    model.dispose();
  });
}
