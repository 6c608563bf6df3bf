import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '@openclip/engine';
import { parseModelConfig } from '../../src/config/model-config.js';
import { ParamStore } from '../../src/towers/params.js';
import { TextTransformer, textPoolIndices } from '../../src/towers/text-transformer.js';

const textCfg = (extra: Record<string, unknown>) => parseModelConfig({
  embed_dim: 4,
  vision_cfg: { image_size: 16, layers: 1, width: 8, head_width: 4, patch_size: 16 },
  text_cfg: { context_length: 4, vocab_size: 20, width: 8, heads: 2, layers: 1, ...extra },
}).text_cfg;

test('embed_cls: causal mask plus OpenCLIP\'s legacy key-padding layout [ones, tokens != pad_id]', async () => {
  await initEngine({ backend: 'cpu' });
  const store = new ParamStore(null);
  const t = new TextTransformer(store, 'text', textCfg({ embed_cls: true, pad_id: 0 }), { outputDim: 4, quickGelu: false });
  assert.deepEqual(t.positionalEmbedding.shape, [5, 8], 'context_length + 1 positions');
  const ids = Int32Array.from([5, 6, 0, 0, 7, 8, 9, 0]);
  const mask = t.attentionMask(ids, 2, 4)!;
  assert.deepEqual(mask.shape, [2, 1, 5, 5]);
  const m = mask.arraySync() as number[][][][];
  for (let b = 0; b < 2; b++) {
    for (let i = 0; i < 5; i++) {
      for (let j = 0; j < 5; j++) {
        const keyValid = j === 0 || ids[b * 4 + j - 1] !== 0;
        const want = j <= i && keyValid ? 0 : -Infinity;
        assert.equal(m[b][0][i][j], want, `batch ${b} query ${i} key ${j}`);
      }
    }
  }
  mask.dispose();
  const plain = new TextTransformer(store, '', textCfg({}), { outputDim: 4, quickGelu: false });
  const causal = plain.attentionMask(ids, 2, 4)!.arraySync() as number[][];
  assert.deepEqual(causal, [[0, -Infinity, -Infinity, -Infinity], [0, 0, -Infinity, -Infinity], [0, 0, 0, -Infinity], [0, 0, 0, 0]]);
  const bidir = new TextTransformer(store, 'bi', textCfg({ no_causal_mask: true }), { outputDim: 4, quickGelu: false });
  assert.equal(bidir.attentionMask(ids, 2, 4), null);
  store.dispose();
});

test('textPoolIndices follows torch argmax (first maximum) and (text == eos).argmax (0 when absent)', () => {
  const ids = Int32Array.from([1, 9, 9, 2, /**/ 3, 3, 3, 3]);
  assert.deepEqual([...textPoolIndices(ids, 2, 4, 'argmax', 0)], [1, 0]);
  assert.deepEqual([...textPoolIndices(ids, 2, 4, 'eos', 9)], [1, 0]);
  assert.deepEqual([...textPoolIndices(ids, 2, 4, 'eos', 3)], [0, 0]);
  assert.deepEqual([...textPoolIndices(ids, 2, 4, 'last', 0)], [3, 3]);
  assert.deepEqual([...textPoolIndices(ids, 2, 4, 'first', 0)], [0, 0]);
});

test('text tower rejects bad token input by name', async () => {
  await initEngine({ backend: 'cpu' });
  const store = new ParamStore(null);
  const t = new TextTransformer(store, 'text', textCfg({}), { outputDim: 4, quickGelu: false });
  const tooLong = tf.zeros([1, 5], 'int32');
  assert.throws(() => t.forward(tooLong), /5 tokens per row exceed context_length 4/);
  const oov = tf.tensor2d([[1, 2, 25, 0]], [1, 4], 'int32');
  assert.throws(() => t.forward(oov), /token id 25 \(row 0\) is outside the vocabulary \[0, 20\)/);
  const floats = tf.zeros([1, 4]);
  assert.throws(() => t.forward(floats), /expected int32 tokens, got float32/);
  tf.dispose([tooLong, oov, floats]);
  store.dispose();
});
