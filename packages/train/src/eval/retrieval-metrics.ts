/**
 * Retrieval metrics of OpenCLIP's `get_clip_metrics`: for each image (text), the 0-based rank
 * of its paired text (image) among all candidates by logit; mean rank + 1, floor(median) + 1,
 * and recall at 1/5/10. Computed in row chunks so 50k pairs never materialise an N×N matrix.
 */
import { tf } from '@openclip/engine';

export interface RetrievalMetrics {
  image_to_text_mean_rank: number;
  image_to_text_median_rank: number;
  'image_to_text_R@1': number;
  'image_to_text_R@5': number;
  'image_to_text_R@10': number;
  text_to_image_mean_rank: number;
  text_to_image_median_rank: number;
  'text_to_image_R@1': number;
  'text_to_image_R@5': number;
  'text_to_image_R@10': number;
}

/** Ranks of the diagonal: for row i of (queries · candidatesᵀ), how many candidates score above candidate i. */
function diagonalRanks(queries: Float32Array, candidates: Float32Array, n: number, d: number, scale: number, maxChunkElems: number): Int32Array {
  const ranks = new Int32Array(n);
  const chunk = Math.max(1, Math.min(n, Math.floor(maxChunkElems / Math.max(1, n))));
  const cand = tf.tensor2d(candidates, [n, d]);
  try {
    for (let start = 0; start < n; start += chunk) {
      const rows = Math.min(chunk, n - start);
      const counts = tf.tidy(() => {
        const q = tf.tensor2d(queries.subarray(start * d, (start + rows) * d), [rows, d]);
        const logits = tf.mul(tf.matMul(q, cand, false, true), scale);
        // The paired logit of each row, picked from the same matrix (so it compares equal to itself).
        // (int32 then cast: tfjs-backend-wasm 4.22's OneHot writes int bits into a float32 output)
        const pick = tf.cast(tf.oneHot(tf.range(start, start + rows, 1, 'int32'), n), 'float32');
        const own = tf.sum(tf.mul(logits, pick), 1, true);
        return tf.sum(tf.cast(tf.greater(logits, own), 'int32'), 1);
      });
      ranks.set(counts.dataSync() as Int32Array, start);
      counts.dispose();
    }
  } finally {
    cand.dispose();
  }
  return ranks;
}

function summarise(prefix: 'image_to_text' | 'text_to_image', ranks: Int32Array): Record<string, number> {
  const n = ranks.length;
  const sorted = Int32Array.from(ranks).sort();
  const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  let sum = 0;
  for (const r of ranks) sum += r;
  const out: Record<string, number> = {
    [`${prefix}_mean_rank`]: sum / n + 1,
    [`${prefix}_median_rank`]: Math.floor(median) + 1,
  };
  for (const k of [1, 5, 10]) {
    let hits = 0;
    for (const r of ranks) if (r < k) hits++;
    out[`${prefix}_R@${k}`] = hits / n;
  }
  return out;
}

/**
 * `imageFeatures` and `textFeatures` are row-major [n, d] (paired by row), `logitScale` the
 * already-exponentiated scale. `maxChunkElems` bounds the logits held at once.
 */
export function clipMetrics(imageFeatures: Float32Array, textFeatures: Float32Array, n: number, d: number, logitScale: number, maxChunkElems = 1 << 24): RetrievalMetrics {
  if (imageFeatures.length !== n * d || textFeatures.length !== n * d) {
    throw new Error(`clipMetrics: expected ${n}x${d} features, got ${imageFeatures.length} image and ${textFeatures.length} text values`);
  }
  if (n === 0) throw new Error('clipMetrics: no samples');
  const i2t = diagonalRanks(imageFeatures, textFeatures, n, d, logitScale, maxChunkElems);
  const t2i = diagonalRanks(textFeatures, imageFeatures, n, d, logitScale, maxChunkElems);
  return { ...summarise('image_to_text', i2t), ...summarise('text_to_image', t2i) } as unknown as RetrievalMetrics;
}
