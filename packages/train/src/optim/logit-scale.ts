/**
 * OpenCLIP's post-step clamp `logit_scale.clamp_(0, math.log(100))` (train.py), applied to the
 * float32 parameter: the upper bound is ln 100 rounded to float32, 4.605170249938965.
 */
import { tf } from '@openclip/engine';
import type { Variable } from '@openclip/engine';

export const LOGIT_SCALE_MAX = Math.fround(Math.log(100));

/** Clamps `params.get(name)` to [0, ln 100] in place; a model without that parameter is left alone. Returns the new value. */
export function clampLogitScale(params: Map<string, Variable>, name = 'logit_scale'): number | null {
  const v = params.get(name);
  if (!v) return null;
  if (v.size !== 1) throw new Error(`clampLogitScale: '${name}' must hold one value, got shape [${v.shape}]`);
  const clamped = tf.clipByValue(v, 0, LOGIT_SCALE_MAX);
  v.assign(clamped);
  clamped.dispose();
  return v.dataSync()[0];
}
