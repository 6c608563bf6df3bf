import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenize, tokenizerSpecForTextConfig } from '@openclip/tokenizer';
import { buildTokenizer, buildTransform } from '../../src/pipeline/specs.js';
import { imageTransform } from '../../src/image/image-transform.js';
import { tinyImage, TEST_HELPERS_URL } from '../../test-support/pipeline-fixtures.js';

test("tokenizer specs build @openclip/tokenizer's tokenizers (a model's text_cfg spec, or CLIP BPE at a context length)", async () => {
  const texts = ['a photo of a red circle', 'An orange STAR!'];
  const fromModel = await buildTokenizer({ kind: 'tokenizer', spec: tokenizerSpecForTextConfig({ context_length: 12 }) });
  const expected = tokenize(texts, 12);
  assert.deepEqual(await fromModel(texts), expected);
  const plain = await buildTokenizer({ kind: 'tokenizer', contextLength: 12 });
  assert.deepEqual(await plain(texts), expected);
  const factory = await buildTokenizer({ kind: 'factory', module: TEST_HELPERS_URL, options: { contextLength: 3 } });
  assert.deepEqual([...(await factory(['ab'])).data], [97, 98, 0]);
});

test('the preprocess spec is the Images section transform; factory errors name the module and export', async () => {
  const bytes = await tinyImage(3, 40);
  const viaSpec = await buildTransform({ kind: 'preprocess', config: { image_size: 24 }, isTrain: false });
  const direct = await imageTransform({ image_size: 24 }, { isTrain: false })(bytes);
  const out = new Float32Array(3 * 24 * 24);
  const got = await viaSpec(bytes, 'x.jpg', out);
  assert.deepEqual(got.shape, [3, 24, 24]);
  assert.deepEqual(out, direct.data, 'written into the given slot');
  await assert.rejects(buildTransform({ kind: 'factory', module: TEST_HELPERS_URL, exportName: 'nope' }), /has no function export 'nope'/);
  await assert.rejects(buildTransform({ kind: 'factory', module: 'file:///nonexistent/mod.js' }), /cannot import 'file:\/\/\/nonexistent\/mod\.js'/);
});
