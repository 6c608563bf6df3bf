/**
 * Activation checkpointing (OpenCLIP's `--grad-checkpointing`, torch.utils.checkpoint on every
 * residual block): the block's forward keeps only its inputs for the backward pass and frees its
 * intermediate activations at once; the backward pass recomputes the block from the saved inputs
 * and takes the gradients of the inputs and of the block's parameters from that recomputation.
 * Peak memory of a training step then holds one block's activations instead of every block's,
 * for the cost of a second forward pass per block.
 */
import { tf, type Tensor, type Variable } from '@openclip/engine';

/**
 * Wraps `fn(...inputs)` (a block reading `params`) as one differentiable op whose gradient is
 * recomputed. Every tensor `fn` reads and needs a gradient for must be among `inputs` or `params`;
 * `fn` must be deterministic (the same output when run again).
 */
/** The parameters of one module: every parameter of `store` named under `prefix.`. */
export function paramsUnder(store: { params: ReadonlyMap<string, Variable> }, prefix: string): Variable[] {
  return [...store.params].filter(([name]) => name.startsWith(`${prefix}.`)).map(([, v]) => v);
}

export function checkpointed(fn: (...inputs: Tensor[]) => Tensor, params: readonly Variable[]): (...inputs: Tensor[]) => Tensor {
  return (...inputs: Tensor[]) => {
    const count = inputs.length;
    const op = tf.customGrad((...args: unknown[]) => {
      const save = args[args.length - 1] as (tensors: Tensor[]) => void;
      const xs = args.slice(0, count) as Tensor[];
      save(xs);
      // only the output survives the forward pass; the tape of the outer step never sees the inside
      const value = tf.tidy(() => fn(...xs));
      return {
        value,
        gradFunc: (dy: Tensor, saved: Tensor[]) => {
          const vjp = tf.grads((...a: Tensor[]) => fn(...a.slice(0, count)));
          // The recomputation records its own tape while the outer backward pass is running. TF.js
          // keeps one active tape per engine and drops it (sets it to null) when a top-level
          // gradient finishes, which would take the outer pass's tape with it: keep the outer tape
          // aside and put it back. The inner tape's saved tensors are freed as soon as this block's
          // gradients are out, so the recomputed activations never pile up.
          const state = tf.engine().state;
          const outer = state.activeTape;
          try {
            return vjp([...saved, ...params], dy);
          } finally {
            state.activeTape = outer;
          }
        },
      };
    });
    return op(...inputs, ...params) as Tensor;
  };
}

/**
 * Turns checkpointing on or off for the transformer stacks of the given towers; returns the names
 * of the towers that have one (a ModifiedResNet has none: OpenCLIP leaves it unchanged too).
 */
export function setGradCheckpointing(towers: readonly [string, unknown][], enable: boolean): string[] {
  const done: string[] = [];
  for (const [name, tower] of towers) {
    const t = tower as { transformer?: { gradCheckpointing?: boolean }; gradCheckpointing?: boolean };
    const target = t.transformer && 'gradCheckpointing' in t.transformer ? t.transformer : 'gradCheckpointing' in t ? t : null;
    if (!target) continue;
    target.gradCheckpointing = enable;
    done.push(name);
  }
  return done;
}
