/**
 * OpenCLIP's two AdamW parameter groups (open_clip_train/main.py): gains and biases without
 * weight decay — `exclude = p.ndim < 2 or "bn" in n or "ln" in n or "bias" in n or
 * "logit_scale" in n` — and every other trainable parameter with `--wd`.
 */

/** True for a parameter main.py puts in the no-weight-decay group (substring tests on the name). */
export function excludeFromWeightDecay(name: string, shape: readonly number[]): boolean {
  return shape.length < 2 || name.includes('bn') || name.includes('ln') || name.includes('bias') || name.includes('logit_scale');
}

export interface ParamGroup {
  /** Parameter names (OpenCLIP state-dict keys) in the order given. */
  names: string[];
  weightDecay: number;
}

/** What a parameter group needs to know about a parameter (a tf.Variable satisfies it). */
export interface ParamInfo {
  shape: readonly number[];
  /** torch's requires_grad; frozen parameters are left out of both groups. Default true. */
  trainable?: boolean;
}

/**
 * `[{gain_or_bias, weight_decay 0}, {rest, weight_decay wd}]` over the trainable parameters, in
 * the order of `params` (pass them in `named_parameters()` order to match torch exactly).
 */
export function openclipParamGroups(params: Map<string, ParamInfo> | Iterable<[string, ParamInfo]>, weightDecay: number): [ParamGroup, ParamGroup] {
  if (typeof weightDecay !== 'number' || !Number.isFinite(weightDecay) || weightDecay < 0) {
    throw new Error(`--wd must be a finite non-negative number, got ${weightDecay}`);
  }
  const gainOrBias: string[] = [];
  const rest: string[] = [];
  for (const [name, p] of params) {
    if (p.trainable === false) continue;
    (excludeFromWeightDecay(name, p.shape) ? gainOrBias : rest).push(name);
  }
  return [
    { names: gainOrBias, weightDecay: 0 },
    { names: rest, weightDecay },
  ];
}
