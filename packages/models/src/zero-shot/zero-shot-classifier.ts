/**
 * OpenCLIP's `build_zero_shot_classifier` (zero_shot_classifier.py): per class, the mean of the
 * L2-normalised text embeddings of every template filled with the class name, renormalised, as the
 * columns of an [embed_dim, num_classes] matrix; plus the evaluation's fixed-100 zero-shot logits and
 * `accuracy()` top-k counts (open_clip_train/zero_shot.py).
 */
import { tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import type { TextTokenizer } from '@openclip/tokenizer';

/** A `{}` format string (`'a photo of a {}.'`) or a function of the class name, as OpenCLIP accepts. */
export type Template = string | ((classname: string) => string);

/** What the classifier needs from a model: OpenCLIP's `encode_text(tokens, normalize=True)`. */
export interface TextEncoder {
  encodeText(tokens: Tensor, options?: { normalize?: boolean }): Tensor;
}

export interface ZeroShotClassifierOptions {
  /** Classes embedded per forward pass (OpenCLIP's `num_classes_per_batch`, default 10). */
  numClassesPerBatch?: number;
  /** Context length for the tokenizer (default: the tokenizer's own). */
  contextLength?: number;
  /** Called after each batch with (classes done, total). */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Python's `str.format(c)` for templates with positional `{}` / `{0}` fields and `{{`/`}}` escapes.
 * Any other field is an error naming the template.
 */
export function formatTemplate(template: Template, classname: string): string {
  if (typeof template === 'function') return template(classname);
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const ch = template[i]!;
    if (ch === '{') {
      if (template[i + 1] === '{') {
        out += '{';
        i++;
        continue;
      }
      const close = template.indexOf('}', i);
      const field = close < 0 ? null : template.slice(i + 1, close);
      if (field !== '' && field !== '0') {
        throw new Error(`template ${JSON.stringify(template)}: only '{}' fields are supported, found '{${field ?? ''}'`);
      }
      out += classname;
      i = close;
    } else if (ch === '}') {
      if (template[i + 1] !== '}') throw new Error(`template ${JSON.stringify(template)}: single '}' (write '}}' for a literal brace)`);
      out += '}';
      i++;
    } else {
      out += ch;
    }
  }
  return out;
}

/** Class-weight matrix [embed_dim, classnames.length] (a tensor the caller disposes). */
export function buildZeroShotClassifier(
  model: TextEncoder,
  tokenizer: TextTokenizer,
  classnames: readonly string[],
  templates: readonly Template[],
  options: ZeroShotClassifierOptions = {},
): Tensor {
  if (classnames.length === 0) throw new Error('buildZeroShotClassifier: no class names');
  if (templates.length === 0) throw new Error('buildZeroShotClassifier: no templates');
  const perBatch = options.numClassesPerBatch ?? 10;
  if (!Number.isInteger(perBatch) || perBatch < 1) throw new Error(`buildZeroShotClassifier: numClassesPerBatch must be a positive integer, got ${perBatch}`);
  const nt = templates.length;
  const columns: Tensor[] = [];
  try {
    for (let start = 0; start < classnames.length; start += perBatch) {
      const batch = classnames.slice(start, start + perBatch);
      const texts = batch.flatMap((c) => templates.map((t) => formatTemplate(t, c)));
      const toks = tokenizer.tokenize(texts, options.contextLength);
      columns.push(tf.tidy(() => {
        const tokens = tf.tensor2d(toks.data, toks.shape, 'int32');
        const emb = model.encodeText(tokens, { normalize: true });
        const e = emb.shape[1]!;
        const mean = tf.mean(tf.reshape(emb, [batch.length, nt, e]), 1);
        const unit = tf.div(mean, tf.norm(mean, 'euclidean', 1, true));
        return tf.transpose(unit);
      }));
      options.onProgress?.(Math.min(start + perBatch, classnames.length), classnames.length);
    }
    return columns.length === 1 ? columns[0]!.clone() : tf.concat(columns, 1);
  } finally {
    tf.dispose(columns);
  }
}

/** Zero-shot logits as OpenCLIP's evaluation computes them: `100 * image_features @ classifier` (fixed 100, not logit_scale). */
export function zeroShotLogits(imageFeatures: Tensor, classifier: Tensor): Tensor {
  return tf.tidy(() => tf.mul(tf.matMul(imageFeatures, classifier), 100));
}

/**
 * OpenCLIP's `accuracy(output, target, topk)`: for each k, how many rows have their target among the
 * k highest logits (a count, not a fraction). Ties are broken towards the lower class index.
 */
export function accuracy(logits: Float32Array | number[], numClasses: number, target: ArrayLike<number>, topk: readonly number[] = [1]): number[] {
  const n = target.length;
  if (logits.length !== n * numClasses) throw new Error(`accuracy: ${logits.length} logits is not ${n} rows × ${numClasses} classes`);
  const maxk = Math.max(...topk);
  if (maxk > numClasses) throw new Error(`accuracy: top-${maxk} asked with only ${numClasses} classes`);
  const ranks: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = target[i]!;
    if (!Number.isInteger(t) || t < 0 || t >= numClasses) throw new Error(`accuracy: target[${i}] = ${t} is not a class index below ${numClasses}`);
    const tv = logits[i * numClasses + t]!;
    let rank = 0;
    for (let c = 0; c < numClasses; c++) {
      const v = logits[i * numClasses + c]!;
      if (v > tv || (v === tv && c < t)) rank++;
    }
    ranks.push(rank);
  }
  return topk.map((k) => ranks.filter((r) => r < k).length);
}
