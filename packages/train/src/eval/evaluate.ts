/**
 * OpenCLIP's `evaluate` (open_clip_train/train.py) and `zero_shot_eval` (zero_shot.py):
 * contrastive validation loss (sample-weighted over batches), retrieval metrics over the whole
 * validation set, CoCa's generative loss, and zero-shot top-1/top-5 on an image-folder set.
 */
import { releaseMemory, tf } from '@openclip/engine';
import { SYNTHETIC_CLASSNAMES, SYNTHETIC_TEMPLATES, classFolderName, withArticle, type Batch, type DataLoader } from '@openclip/data';
import { accuracy, buildZeroShotClassifier, zeroShotLogits, IMAGENET_CLASSNAMES, OPENAI_IMAGENET_TEMPLATES, type OpenClipModel, type Template } from '@openclip/models';
import type { TextTokenizer } from '@openclip/tokenizer';
import { clipMetrics } from './retrieval-metrics.js';
import { ProgressBar } from '../progress.js';

export type Metrics = Record<string, number>;

/** Class names and templates of the synthetic shapes set ("a photo of a red circle"). */
export function syntheticZeroShot(): { classnames: string[]; templates: Template[] } {
  return { classnames: [...SYNTHETIC_CLASSNAMES], templates: SYNTHETIC_TEMPLATES.map((t) => (c: string) => t.replace('{}', withArticle(c))) };
}

/**
 * The class names and templates for zero-shot evaluation of an image folder: the synthetic shapes
 * when the folder is one made by `openclip make-dataset --type imagefolder`, OpenCLIP's ImageNet
 * class names and OpenAI templates for 1000 classes (as OpenCLIP always uses), else the folder names.
 */
export function zeroShotClasses(folderClasses: readonly string[]): { classnames: string[]; templates: Template[]; kind: string } {
  const synthetic = SYNTHETIC_CLASSNAMES.map((c) => classFolderName(c));
  if (folderClasses.length === synthetic.length && folderClasses.every((c, i) => c === synthetic[i])) {
    return { ...syntheticZeroShot(), kind: 'synthetic shapes' };
  }
  if (folderClasses.length === IMAGENET_CLASSNAMES.length) {
    return { classnames: [...IMAGENET_CLASSNAMES], templates: [...OPENAI_IMAGENET_TEMPLATES], kind: 'ImageNet-1k (OpenAI templates)' };
  }
  return { classnames: folderClasses.map((c) => c.replace(/_/g, ' ')), templates: [...OPENAI_IMAGENET_TEMPLATES], kind: 'folder names (OpenAI templates)' };
}

function batchTensors(b: Batch): { images: tf.Tensor4D; tokens: tf.Tensor2D | null } {
  const images = tf.tensor4d(b.images, b.imageShape as [number, number, number, number]);
  const tokens = b.tokens ? tf.tensor2d(b.tokens, b.tokenShape as [number, number], 'int32') : null;
  return { images, tokens };
}

/** Validation loss and retrieval metrics on a captioned validation set. */
export async function evaluateRetrieval(model: OpenClipModel, loader: DataLoader, epoch: number, options: { progress?: boolean } = {}): Promise<Metrics> {
  model.eval();
  const bar = new ProgressBar('val pairs', loader.numSamples, 'pairs', { enabled: options.progress ?? false });
  const imgs: Float32Array[] = [];
  const txts: Float32Array[] = [];
  let dim = 0;
  let lossSum = 0;
  let genSum = 0;
  let hasGen = false;
  let n = 0;
  let scale = 1;
  for await (const b of loader.epoch(0)) {
    const { images, tokens } = batchTensors(b);
    try {
      type R = { i: tf.Tensor; t: tf.Tensor; loss: tf.Tensor; gen: tf.Tensor | null; scale: tf.Tensor };
      const r = tf.tidy((): tf.TensorContainer => {
        const out = model.forward(images, tokens);
        const i = out.imageFeatures!;
        const t = out.textFeatures!;
        const logits = tf.mul(tf.matMul(i, t, false, true), out.logitScale);
        const labels = tf.range(0, i.shape[0], 1, 'int32');
        const ce = (l: tf.Tensor) => tf.mean(tf.neg(tf.sum(tf.mul(tf.logSoftmax(l), tf.oneHot(labels, l.shape[1]!).toFloat()), 1)));
        const loss = tf.div(tf.add(ce(logits), ce(tf.transpose(logits))), 2);
        let gen: tf.Tensor | null = null;
        if (out.logits && out.labels) {
          // CoCa: caption cross-entropy ignoring the pad token 0
          const v = out.logits.shape[2]!;
          const lab = tf.reshape(out.labels, [-1]);
          const mask = tf.cast(tf.notEqual(lab, 0), 'float32');
          const logp = tf.logSoftmax(tf.reshape(out.logits, [-1, v]));
          const nll = tf.neg(tf.sum(tf.mul(logp, tf.oneHot(lab, v).toFloat()), 1));
          gen = tf.div(tf.sum(tf.mul(nll, mask)), tf.maximum(tf.sum(mask), 1));
        }
        return { i, t, loss, gen: gen ?? undefined, scale: out.logitScale } as unknown as tf.TensorContainer;
      }) as unknown as R;
      r.gen ??= null;
      const bs = b.imageShape[0];
      dim = r.i.shape[1]!;
      imgs.push(r.i.dataSync() as Float32Array);
      txts.push(r.t.dataSync() as Float32Array);
      lossSum += r.loss.dataSync()[0] * bs;
      if (r.gen) {
        hasGen = true;
        genSum += r.gen.dataSync()[0] * bs;
      }
      scale = r.scale.dataSync()[0];
      n += bs;
      bar.update(n);
      tf.dispose([r.i, r.t, r.loss, r.scale, ...(r.gen ? [r.gen] : [])]);
    } finally {
      tf.dispose([images, ...(tokens ? [tokens] : [])]);
    }
  }
  bar.stop();
  if (n === 0) throw new Error('validation set produced no samples');
  const cat = (parts: Float32Array[]) => {
    const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  };
  const metrics: Metrics = { ...clipMetrics(cat(imgs), cat(txts), n, dim, scale), clip_val_loss: lossSum / n, epoch, num_samples: n };
  if (hasGen) metrics.val_generative_loss = genSum / n;
  releaseMemory(); // an evaluation's activations go back to the system, not only to the tensor pool
  return metrics;
}

/** Zero-shot top-1/top-5 (fractions) on an image-folder loader with labels. */
export async function evaluateZeroShot(
  model: OpenClipModel,
  tokenizer: TextTokenizer,
  loader: DataLoader,
  classnames: readonly string[],
  templates: readonly Template[],
  prefix: string,
  options: { progress?: boolean } = {},
): Promise<Metrics> {
  model.eval();
  const classBar = new ProgressBar(`${prefix} classifier`, classnames.length, 'classes', { enabled: options.progress ?? false });
  let classifier: tf.Tensor;
  try {
    classifier = buildZeroShotClassifier(model, tokenizer, classnames, templates, { onProgress: (done) => classBar.update(done) });
  } finally {
    classBar.stop();
  }
  const imageBar = new ProgressBar(`${prefix} images`, loader.numSamples, 'images', { enabled: options.progress ?? false });
  const k = Math.min(5, classnames.length);
  let top1 = 0;
  let topk = 0;
  let n = 0;
  try {
    for await (const b of loader.epoch(0)) {
      if (!b.labels) throw new Error('zero-shot evaluation needs labelled images (an image folder root/class/*.jpg)');
      const images = tf.tensor4d(b.images, b.imageShape as [number, number, number, number]);
      const logits = tf.tidy(() => zeroShotLogits(model.encodeImage(images, { normalize: true }), classifier));
      const data = logits.dataSync() as Float32Array;
      tf.dispose([images, logits]);
      const [a1, a5] = accuracy(data, classnames.length, b.labels, [1, k]);
      top1 += a1;
      topk += a5;
      n += b.labels.length;
      imageBar.update(n);
    }
  } finally {
    imageBar.stop();
    classifier.dispose();
  }
  if (n === 0) throw new Error('zero-shot set produced no images');
  releaseMemory();
  return { [`${prefix}-zeroshot-val-top1`]: top1 / n, [`${prefix}-zeroshot-val-top5`]: topk / n };
}
