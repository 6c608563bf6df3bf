/**
 * `nn.Module.load_state_dict` for a ParamStore: every key checked by name before anything is
 * assigned; shape mismatches always fail (as in PyTorch), missing/unexpected keys fail when strict.
 */
import { tf, toFloat32, toInt32 } from '@openclip/engine';
import type { RawTensor, Tensor } from '@openclip/engine';
import type { ParamStore } from '../towers/params.js';

/** A state dict as read from a checkpoint (RawTensor), or tensors already on the engine. */
export type StateDictInput = Map<string, RawTensor | Tensor> | Record<string, RawTensor | Tensor>;

export interface LoadStateDictOptions {
  /** Missing or unexpected keys are errors (default true, as OpenCLIP's load_checkpoint). */
  strict?: boolean;
  /** Names the source in errors (e.g. the checkpoint path). */
  source?: string;
}

export interface LoadStateDictReport {
  loaded: string[];
  missing: string[];
  unexpected: string[];
}

export class StateDictError extends Error {
  constructor(message: string, readonly missing: string[] = [], readonly unexpected: string[] = [], readonly mismatched: string[] = []) {
    super(message);
    this.name = 'StateDictError';
  }
}

function isTensor(v: RawTensor | Tensor): v is Tensor {
  return v instanceof tf.Tensor;
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const numel = (s: readonly number[]) => s.reduce((x, y) => x * y, 1);

function listNames(names: string[], max = 12): string {
  return names.slice(0, max).map((n) => `'${n}'`).join(', ') + (names.length > max ? `, … (${names.length} in all)` : '');
}

/** Loads `input` into the variables of `store`; `names` restricts/orders the expected keys (default: all). */
export function loadStateDictInto(store: ParamStore, input: StateDictInput, options: LoadStateDictOptions = {}): LoadStateDictReport {
  const strict = options.strict ?? true;
  const src = options.source ? `${options.source}: ` : '';
  const entries = input instanceof Map ? input : new Map(Object.entries(input));
  const targets = new Map<string, tf.Variable>([...store.params, ...store.buffers]);
  const missing = store.order.filter((n) => !entries.has(n));
  const unexpected = [...entries.keys()].filter((n) => !targets.has(n));
  const mismatched: string[] = [];
  for (const [name, v] of targets) {
    const t = entries.get(name);
    if (!t) continue;
    const shape = t.shape;
    // OpenCLIP's load_checkpoint reshapes logit_scale / logit_bias between [] and [1].
    const scalarLike = numel(shape) === 1 && numel(v.shape) === 1 && v.shape.length <= 1 && shape.length <= 1;
    if (!sameShape(shape, v.shape) && !scalarLike) mismatched.push(`'${name}': checkpoint has shape [${shape}], the model expects [${v.shape}]`);
  }
  if (mismatched.length) {
    throw new StateDictError(`${src}size mismatch for ${mismatched.length} tensor(s): ${mismatched.slice(0, 12).join('; ')}`, missing, unexpected, mismatched);
  }
  if (strict && (missing.length || unexpected.length)) {
    const parts = [];
    if (missing.length) parts.push(`missing key(s): ${listNames(missing)}`);
    if (unexpected.length) parts.push(`unexpected key(s): ${listNames(unexpected)}`);
    throw new StateDictError(`${src}error loading state dict: ${parts.join('; ')}`, missing, unexpected);
  }
  const loaded: string[] = [];
  for (const [name, v] of targets) {
    const t = entries.get(name);
    if (!t) continue;
    const value = isTensor(t)
      ? tf.tidy(() => tf.reshape(tf.cast(t, v.dtype), v.shape))
      : v.dtype === 'int32'
        ? tf.tensor(toInt32(t, name), v.shape, 'int32')
        : tf.tensor(toFloat32(t), v.shape, 'float32');
    v.assign(value);
    value.dispose();
    loaded.push(name);
  }
  return { loaded, missing, unexpected };
}
