/**
 * torch.optim.AdamW as OpenCLIP trains with it: per parameter group weight decay, decoupled
 * decay `p ← p·(1 − lr·wd)` before the bias-corrected Adam step
 * `p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε)`, the learning rate assigned to every group by the
 * schedule before each step, and state kept as plain Float32Arrays so checkpoints save and
 * restore it exactly.
 */
import { TORCH_ADAMW_DEFAULTS } from '@openclip/common';
import { adamwStep, engineInfo, tf } from '@openclip/engine';
import type { RawTensor, Tensor, TensorToWrite, Variable } from '@openclip/engine';
import type { ParamGroup } from './param-groups.js';

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count of this parameter (bias correction). */
  step: number;
  /** Multiplies the gradient first (gradient clipping's coefficient); 1 for none. */
  gradScale: number;
}

const f = Math.fround;

/**
 * One AdamW update of one parameter, elementwise in a single pass: reads `param`, `grad`,
 * updates `expAvg` / `expAvgSq` in place and writes the new parameter into `out` (which may be
 * `param`). Each quantity torch stores in float32 is rounded to float32 where torch rounds it,
 * so the result follows torch's float32 arithmetic.
 */
export function adamwUpdate(
  param: Float32Array,
  grad: Float32Array,
  expAvg: Float32Array,
  expAvgSq: Float32Array,
  out: Float32Array,
  h: AdamWHyper,
): void {
  const decay = f(1 - h.lr * h.weightDecay);
  const b1 = f(h.beta1);
  const b2 = f(h.beta2);
  const oneMinusB1 = f(1 - h.beta1);
  const oneMinusB2 = f(1 - h.beta2);
  const biasCorrection1 = 1 - Math.pow(h.beta1, h.step);
  const biasCorrection2Sqrt = f(Math.sqrt(1 - Math.pow(h.beta2, h.step)));
  const negStepSize = f(-(h.lr / biasCorrection1));
  const eps = f(h.eps);
  const scale = f(h.gradScale);
  // (Multiplying by a scale or decay of exactly 1 is exact, so no branch is needed for them.)
  for (let i = 0; i < param.length; i++) {
    const g = f(grad[i] * scale);
    const p = f(param[i] * decay);
    const m = f(f(expAvg[i] * b1) + f(g * oneMinusB1));
    const v = f(f(expAvgSq[i] * b2) + f(f(g * g) * oneMinusB2));
    expAvg[i] = m;
    expAvgSq[i] = v;
    const denom = f(f(f(Math.sqrt(v)) / biasCorrection2Sqrt) + eps);
    out[i] = f(p + negStepSize * f(m / denom));
  }
}

export interface AdamWOptimizerOptions {
  lr: number;
  /** (β1, β2); torch's default (0.9, 0.999). OpenCLIP: (0.9, 0.98) for ViTs, else (0.9, 0.999). */
  betas?: [number, number];
  /** torch's default 1e-8; OpenCLIP 1e-6 for ViTs. */
  eps?: number;
  /** Decay of parameters not in `groups`; torch's default 0.01. */
  weightDecay?: number;
  /** Parameter groups (e.g. openclipParamGroups); default one group of every trainable parameter. */
  groups?: ParamGroup[];
  /**
   * The update kernel: 'exact' runs `adamwUpdate` (torch's float32 rounding, state as
   * Float32Arrays); 'engine' runs the engine's fused `adamwStep` in the backend's memory (native on
   * the openblas tier, WGSL on webgpu; state as variables); 'auto' (default) takes 'engine' on an
   * accelerated tier and on the webgpu backend (where 'exact' would read every parameter back
   * from the GPU each step), and 'exact' otherwise.
   */
  kernel?: AdamWKernel;
}

export type AdamWKernel = 'auto' | 'exact' | 'engine';

interface ParamState {
  step: number;
  /** 'exact' kernel. */
  expAvg?: Float32Array;
  expAvgSq?: Float32Array;
  /** 'engine' kernel. */
  m?: Variable;
  v?: Variable;
}

let stateIds = 0;

export interface StepOptions {
  /** Learning rate for this step (assigned to every group, as OpenCLIP's scheduler does). */
  lr?: number;
  /** Gradient multiplier, e.g. clipGradNorm's coefficient. */
  gradScale?: number;
}

const STATE_PREFIX = 'optimizer.state.';

/** AdamW over a `Map<name, tf.Variable>` keyed by OpenCLIP state-dict names. */
export class AdamW {
  readonly groups: { names: string[]; weightDecay: number }[];
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** The current learning rate of every group. */
  lr: number;
  /** The kernel in use ('auto' resolved at construction). */
  readonly kernel: 'exact' | 'engine';
  private readonly params: Map<string, Variable>;
  private readonly groupOf = new Map<string, number>();
  private readonly state = new Map<string, ParamState>();

  constructor(params: Map<string, Variable>, options: AdamWOptimizerOptions) {
    this.params = params;
    const [beta1, beta2] = options.betas ?? [TORCH_ADAMW_DEFAULTS.beta1, TORCH_ADAMW_DEFAULTS.beta2];
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = options.eps ?? TORCH_ADAMW_DEFAULTS.eps;
    this.lr = options.lr;
    const kernel = options.kernel ?? 'auto';
    if (!['auto', 'exact', 'engine'].includes(kernel)) throw new Error(`AdamW: unknown kernel '${kernel}' (auto, exact, engine)`);
    const info = engineInfo();
    this.kernel = kernel === 'auto' ? ((info?.accel?.tier ?? 'none') !== 'none' || info?.backend === 'webgpu' ? 'engine' : 'exact') : kernel;
    const checks: [string, number, boolean][] = [
      ['lr', options.lr, options.lr >= 0],
      ['beta1', beta1, beta1 >= 0 && beta1 < 1],
      ['beta2', beta2, beta2 >= 0 && beta2 < 1],
      ['eps', this.eps, this.eps >= 0],
    ];
    for (const [k, v, ok] of checks) if (typeof v !== 'number' || !Number.isFinite(v) || !ok) throw new Error(`AdamW: invalid ${k} ${v}`);
    this.groups = options.groups
      ? options.groups.map((g) => ({ names: [...g.names], weightDecay: g.weightDecay }))
      : [{ names: [...params.entries()].filter(([, v]) => v.trainable).map(([k]) => k), weightDecay: options.weightDecay ?? TORCH_ADAMW_DEFAULTS.weightDecay }];
    this.groups.forEach((g, gi) => {
      for (const name of g.names) {
        const v = params.get(name);
        if (!v) throw new Error(`AdamW: parameter group ${gi} names '${name}', which is not among the parameters`);
        if (v.dtype !== 'float32') throw new Error(`AdamW: parameter '${name}' is ${v.dtype}; only float32 parameters are optimised`);
        if (this.groupOf.has(name)) throw new Error(`AdamW: parameter '${name}' is in more than one group`);
        this.groupOf.set(name, gi);
      }
    });
  }

  /** OpenCLIP's assign_learning_rate: the same lr for every group. */
  setLr(lr: number): void {
    if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) throw new Error(`AdamW: invalid lr ${lr}`);
    this.lr = lr;
  }

  /**
   * One optimizer step with the gradients given by name. Parameters without a gradient are
   * skipped (torch skips `p.grad is None`); a gradient for an unknown or frozen parameter is an error.
   */
  step(grads: Map<string, Tensor>, options: StepOptions = {}): void {
    if (options.lr !== undefined) this.setLr(options.lr);
    const gradScale = options.gradScale ?? 1;
    if (!Number.isFinite(gradScale)) throw new Error(`AdamW: gradScale must be finite, got ${gradScale}`);
    for (const [name, grad] of grads) {
      const gi = this.groupOf.get(name);
      if (gi === undefined) throw new Error(`AdamW: got a gradient for '${name}', which no parameter group holds`);
      const v = this.params.get(name)!;
      if (!tf.util.arraysEqual(grad.shape, v.shape)) throw new Error(`AdamW: gradient of '${name}' has shape [${grad.shape}], parameter is [${v.shape}]`);
    }
    for (const [name, grad] of grads) {
      const gi = this.groupOf.get(name)!;
      const v = this.params.get(name)!;
      const s = this.stateFor(name);
      s.step += 1;
      const hyper = { lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.groups[gi].weightDecay, step: s.step };
      if (this.kernel === 'engine') {
        const g = gradScale === 1 ? grad : tf.mul(grad, gradScale);
        adamwStep(v, g, s.m!, s.v!, hyper);
        if (g !== grad) g.dispose();
        continue;
      }
      const out = new Float32Array(v.size);
      adamwUpdate(v.dataSync() as Float32Array, grad.dataSync() as Float32Array, s.expAvg!, s.expAvgSq!, out, { ...hyper, gradScale });
      const t = tf.tensor(out, v.shape, 'float32');
      v.assign(t);
      t.dispose();
    }
  }

  private stateFor(name: string): ParamState {
    let s = this.state.get(name);
    if (!s) {
      s = this.emptyState(name);
      this.state.set(name, s);
    }
    return s;
  }

  private emptyState(name: string): ParamState {
    const p = this.params.get(name)!;
    if (this.kernel === 'exact') return { step: 0, expAvg: new Float32Array(p.size), expAvgSq: new Float32Array(p.size) };
    const id = stateIds++;
    const zeros = tf.zeros(p.shape);
    const s = { step: 0, m: tf.variable(zeros, false, `adamw.exp_avg.${id}.${name}`), v: tf.variable(zeros, false, `adamw.exp_avg_sq.${id}.${name}`) };
    zeros.dispose();
    return s;
  }

  private moments(s: ParamState): [Float32Array, Float32Array] {
    if (this.kernel === 'exact') return [s.expAvg!, s.expAvgSq!];
    return [Float32Array.from(s.m!.dataSync() as Float32Array), Float32Array.from(s.v!.dataSync() as Float32Array)];
  }

  /** Releases the moment variables of the 'engine' kernel. */
  dispose(): void {
    for (const s of this.state.values()) tf.dispose([s.m, s.v].filter((x): x is Variable => x !== undefined));
    this.state.clear();
  }

  /** Step count of a parameter (0 before its first update). */
  stepOf(name: string): number {
    return this.state.get(name)?.step ?? 0;
  }

  /**
   * The state as tensors for a checkpoint's state file: `optimizer.state.<name>.exp_avg`,
   * `.exp_avg_sq` (F32, the parameter's shape) and `.step` (F64 scalar), plus the
   * hyper-parameters for its metadata.
   */
  stateTensors(): { tensors: Map<string, TensorToWrite>; hyper: { lr: number; betas: [number, number]; eps: number; groups: { names: string[]; weightDecay: number }[] } } {
    const tensors = new Map<string, TensorToWrite>();
    for (const [name, s] of this.state) {
      const shape = [...this.params.get(name)!.shape];
      const [m, v] = this.moments(s);
      tensors.set(`${STATE_PREFIX}${name}.exp_avg`, { dtype: 'F32', shape, data: Float32Array.from(m) });
      tensors.set(`${STATE_PREFIX}${name}.exp_avg_sq`, { dtype: 'F32', shape, data: Float32Array.from(v) });
      tensors.set(`${STATE_PREFIX}${name}.step`, { dtype: 'F64', shape: [], data: Float64Array.of(s.step) });
    }
    return { tensors, hyper: { lr: this.lr, betas: [this.beta1, this.beta2], eps: this.eps, groups: this.groups.map((g) => ({ names: [...g.names], weightDecay: g.weightDecay })) } };
  }

  /** Restores what stateTensors saved; every entry must name a known parameter with its shape. */
  loadStateTensors(tensors: Map<string, RawTensor | TensorToWrite>, source = 'optimizer state'): void {
    const loaded = new Map<string, { step?: number; expAvg?: Float32Array; expAvgSq?: Float32Array }>();
    for (const [key, t] of tensors) {
      if (!key.startsWith(STATE_PREFIX)) continue;
      const rest = key.slice(STATE_PREFIX.length);
      const dot = rest.lastIndexOf('.');
      const name = rest.slice(0, dot);
      const field = rest.slice(dot + 1);
      const v = this.params.get(name);
      if (!v || !this.groupOf.has(name)) throw new Error(`${source}: '${key}' is for parameter '${name}', which this optimizer does not hold`);
      const entry = loaded.get(name) ?? {};
      loaded.set(name, entry);
      if (field === 'step') {
        const step = Number(t.data[0]);
        if (!Number.isInteger(step) || step < 0 || t.data.length !== 1) throw new Error(`${source}: '${key}' must be one non-negative integer, got ${t.data[0]}`);
        entry.step = step;
      } else if (field === 'exp_avg' || field === 'exp_avg_sq') {
        if (!(t.data instanceof Float32Array)) throw new Error(`${source}: '${key}' must be F32`);
        if (!tf.util.arraysEqual(t.shape, v.shape)) throw new Error(`${source}: '${key}' has shape [${t.shape}], parameter '${name}' is [${v.shape}]`);
        if (field === 'exp_avg') entry.expAvg = Float32Array.from(t.data);
        else entry.expAvgSq = Float32Array.from(t.data);
      } else {
        throw new Error(`${source}: unknown optimizer state field '${key}'`);
      }
    }
    for (const [name, e] of loaded) {
      if (e.step === undefined || !e.expAvg || !e.expAvgSq) throw new Error(`${source}: incomplete state for '${name}' (needs exp_avg, exp_avg_sq and step)`);
    }
    this.dispose();
    for (const [name, e] of loaded) {
      const s = this.emptyState(name);
      s.step = e.step!;
      if (this.kernel === 'exact') {
        s.expAvg = e.expAvg;
        s.expAvgSq = e.expAvgSq;
      } else {
        const shape = this.params.get(name)!.shape;
        for (const [target, data] of [[s.m!, e.expAvg!], [s.v!, e.expAvgSq!]] as const) {
          const t = tf.tensor(data, shape, 'float32');
          target.assign(t);
          t.dispose();
        }
      }
      this.state.set(name, s);
    }
  }
}
