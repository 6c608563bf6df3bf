/**
 * The cross-entropy forms OpenCLIP's losses use (`F.cross_entropy` with integer targets, with
 * `ignore_index`, and DistillClipLoss's soft-target `dist_loss`), in log-softmax form so that
 * huge logits stay finite in float32.
 */
import { tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';

/** mean over rows of −log softmax(logits)[label]; logits [N, C], labels int32 [N]. */
export function crossEntropy(logits: Tensor, labels: Tensor): Tensor {
  return tf.tidy(() => {
    const numClasses = logits.shape[logits.rank - 1]!;
    const picked = tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(labels, numClasses)), -1);
    return tf.neg(tf.mean(picked));
  });
}

/**
 * `F.cross_entropy(logits, labels, ignore_index=ignoreIndex)` with mean reduction: averages over
 * the positions whose label is not `ignoreIndex` (NaN when every position is ignored, as in torch).
 * logits [N, C], labels int32 [N].
 */
export function crossEntropyIgnoring(logits: Tensor, labels: Tensor, ignoreIndex: number): Tensor {
  return tf.tidy(() => {
    const numClasses = logits.shape[logits.rank - 1]!;
    const keep = tf.cast(tf.notEqual(labels, ignoreIndex), 'float32');
    const picked = tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(labels, numClasses)), -1);
    return tf.div(tf.neg(tf.sum(tf.mul(picked, keep))), tf.sum(keep));
  });
}

/** DistillClipLoss.dist_loss: −Σ softmax(teacher)·log_softmax(student) over classes, mean over rows. */
export function softTargetCrossEntropy(teacherLogits: Tensor, studentLogits: Tensor): Tensor {
  return tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(tf.softmax(teacherLogits), tf.logSoftmax(studentLogits)), 1))));
}
