import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixtureSkip, referenceCase, referenceDir } from '@openclip/test-config';
import { initEngine, SafetensorsFile, tf, Rng } from '@openclip/engine';
import { clipMetrics } from '../../src/eval/retrieval-metrics.js';

const SKIP = fixtureSkip('retrieval', ['retrieval/retrieval.json', 'retrieval/retrieval.safetensors']);
const dir = SKIP ? '' : join(referenceDir(), 'retrieval');
const atol: number = SKIP ? 0 : referenceCase('retrieval').tolerance.float_atol;
const expected = (SKIP ? {} : JSON.parse(readFileSync(join(dir, 'retrieval.json'), 'utf8')).cases) as Record<string, Record<string, number>>;

for (const backend of ['cpu', 'wasm']) {
  test(`get_clip_metrics parity on the reference cases (${backend})`, { skip: SKIP }, async () => {
    await initEngine({ backend });
    const f = SafetensorsFile.open(join(dir, 'retrieval.safetensors'));
    try {
      for (const [name, want] of Object.entries(expected)) {
        const img = f.readFloat32(`${name}.image_features`);
        const txt = f.readFloat32(`${name}.text_features`);
        const scale = f.readFloat32(`${name}.logit_scale`).data[0];
        const [n, d] = img.shape;
        const before = tf.memory().numTensors;
        // a tiny chunk forces several chunks, which must give the same answer
        for (const chunk of [1 << 20, 2 * n]) {
          const got = clipMetrics(img.data, txt.data, n, d, scale, chunk) as unknown as Record<string, number>;
          assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort(), name);
          for (const k of Object.keys(want)) assert.ok(Math.abs(got[k] - want[k]) <= atol, `${name} ${k}: ${got[k]} vs ${want[k]}`);
        }
        assert.equal(tf.memory().numTensors, before, 'no tensor leak');
      }
    } finally {
      f.close();
    }
  });
}

test('perfectly paired features give rank 1 everywhere; shuffled pairs do not', async () => {
  await initEngine({ backend: 'cpu' });
  const rng = new Rng(4);
  const n = 50, d = 8;
  const x = rng.fillNormal(new Float32Array(n * d));
  for (let i = 0; i < n; i++) {
    const row = x.subarray(i * d, (i + 1) * d);
    const norm = Math.hypot(...row);
    for (let j = 0; j < d; j++) row[j] /= norm;
  }
  const m = clipMetrics(x, x, n, d, 100, 7 * n);
  assert.equal(m['image_to_text_R@1'], 1);
  assert.equal(m.text_to_image_median_rank, 1);
  const y = rng.fillNormal(new Float32Array(n * d));
  const r = clipMetrics(x, y, n, d, 100);
  assert.ok(r['image_to_text_R@1'] < 0.5);
  assert.throws(() => clipMetrics(x, y, n + 1, d, 1), /expected 51x8 features/);
});
