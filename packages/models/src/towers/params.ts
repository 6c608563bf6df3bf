/**
 * Parameter and buffer bookkeeping under OpenCLIP's exact state-dict names, in PyTorch layouts:
 * what `nn.Module.state_dict()` walks in Python is a pair of ordered Maps here.
 */
import { tf } from '@openclip/engine';
import type { Rng } from '@openclip/engine';
import { materialize } from '../init/initializers.js';
import type { InitSpec } from '../init/initializers.js';

export class ParamStore {
  /** Trainable (and frozen) parameters, in PyTorch's registration order. */
  readonly params = new Map<string, tf.Variable>();
  /** Non-parameter state (BatchNorm running stats and `num_batches_tracked`). */
  readonly buffers = new Map<string, tf.Variable>();
  /** Parameters OpenCLIP creates with requires_grad=False (e.g. the sin-cos position embedding). */
  readonly frozen = new Set<string>();
  /** Every parameter and buffer name in creation order (PyTorch interleaves them per module). */
  readonly order: string[] = [];

  /** `rng` null: random specs give zeros (fast construction before loading weights). */
  constructor(readonly rng: Rng | null) {}

  param(name: string, shape: number[], init: InitSpec, options: { trainable?: boolean } = {}): tf.Variable {
    if (this.params.has(name) || this.buffers.has(name)) throw new Error(`duplicate parameter name '${name}'`);
    const size = shape.reduce((a, b) => a * b, 1);
    const trainable = options.trainable ?? true;
    const initial = tf.tensor(materialize(init, size, this.rng), shape, 'float32');
    const v = tf.variable(initial, trainable);
    initial.dispose();
    this.params.set(name, v);
    this.order.push(name);
    if (!trainable) this.frozen.add(name);
    return v;
  }

  buffer(name: string, shape: number[], value: number, dtype: 'float32' | 'int32' = 'float32'): tf.Variable {
    if (this.params.has(name) || this.buffers.has(name)) throw new Error(`duplicate buffer name '${name}'`);
    const initial = tf.fill(shape, value, dtype);
    const v = tf.variable(initial, false);
    initial.dispose();
    this.buffers.set(name, v);
    this.order.push(name);
    return v;
  }

  /** Redraws a parameter from `init` (an OpenCLIP `init_parameters` step); no-op without an rng. */
  reinit(v: tf.Variable, init: InitSpec): void {
    if (!this.rng) return;
    const size = v.shape.reduce((a, b) => a * b, 1);
    const t = tf.tensor(materialize(init, size, this.rng), v.shape, 'float32');
    v.assign(t);
    t.dispose();
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    for (const v of this.buffers.values()) v.dispose();
    this.params.clear();
    this.buffers.clear();
    this.order.length = 0;
  }
}

/** Joins a module prefix and a local name the way PyTorch does ('' + 'a' = 'a', 'x' + 'a' = 'x.a'). */
export function join(prefix: string, name: string): string {
  return prefix ? `${prefix}.${name}` : name;
}
