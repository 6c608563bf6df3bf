/**
 * Backpropagation that frees as it goes. TensorFlow.js's own `gradients` walks the tape
 * backward but keeps every node's saved activations and every intermediate gradient until
 * the whole walk ends, so a training step peaks at activations + activation gradients
 * (ViT-B-32 at batch 32: 8.4 GB held against 3.4 GB at the end of the forward pass). This
 * walk is the same computation in the same order, but it disposes a node's saved tensors as
 * soon as its input gradients exist and a tensor's gradient as soon as the node that produced
 * the tensor has used it, as PyTorch's autograd does. Installed on the engine by
 * `installEagerBackprop()` (initEngine calls it); higher-order gradients (a tape inside a
 * tape) keep everything, as they must.
 */
import { tf } from './tf.js';
import type { Tensor } from '@tensorflow/tfjs-core';

interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, Tensor>;
  outputs: Tensor[];
  saved?: Tensor[];
  gradient?: (dys: (Tensor | null)[]) => Record<string, () => Tensor>;
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T>(name: string, f: () => T): T;
  gradients(f: () => Tensor, xs: Tensor[], dy?: Tensor, allowNoGradients?: boolean): { value: Tensor; grads: Tensor[] };
}

/**
 * The nodes on some path from one of `xs` to `y`, in tape order, each with its inputs cut
 * down to those that both depend on an x and lead to y (only those need a gradient).
 */
export function pathNodes(tape: TapeNode[], xs: Tensor[], y: Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const reached = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      for (const o of node.outputs) fromX.add(o.id);
      reached.add(node.id);
    }
  }
  const toY = new Set<number>([y.id]);
  const leads = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((o) => toY.has(o.id))) {
      for (const t of Object.values(node.inputs)) toY.add(t.id);
      leads.add(node.id);
    }
  }
  const out: TapeNode[] = [];
  for (const node of tape) {
    if (!reached.has(node.id) || !leads.has(node.id)) continue;
    const inputs: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(node.inputs)) if (fromX.has(t.id) && toY.has(t.id)) inputs[name] = t;
    out.push({ ...node, inputs });
  }
  return out;
}

/** Walks `nodes` backward from grads[y.id], freeing saved tensors and used gradients when `eager`. */
function walk(nodes: TapeNode[], grads: Map<number, Tensor>, keepIds: Set<number>, eager: boolean, tidy: <T>(f: () => T) => T): void {
  const stored = new Set<Tensor>(grads.values());
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    if (!node.gradient) throw new Error(`Cannot compute gradient: no gradient function is registered for kernel ${node.kernelName}`);
    const dys = node.outputs.map((o) => grads.get(o.id) ?? null);
    const thunks = node.gradient(dys);
    for (const [name, x] of Object.entries(node.inputs)) {
      const thunk = thunks[name];
      if (!thunk) throw new Error(`Cannot backprop through input '${name}' of ${node.kernelName}; it gives gradients for: ${Object.keys(thunks).join(', ')}`);
      let dx = tidy(thunk);
      if (dx.dtype !== 'float32') throw new Error(`The gradient of input '${name}' of ${node.kernelName} has dtype '${dx.dtype}', not float32`);
      if (!tf.util.arraysEqual(dx.shape, x.shape)) {
        throw new Error(`The gradient of input '${name}' of ${node.kernelName} has shape [${dx.shape}], its input has [${x.shape}]`);
      }
      // a gradient function may hand back a tensor that is already some gradient (dy itself) or
      // one of its saved tensors: give it its own handle so freeing one never frees the other
      if (stored.has(dx) || node.saved?.includes(dx)) dx = tf.clone(dx);
      const cur = grads.get(x.id);
      if (cur) {
        const sum = tf.add(cur, dx);
        stored.delete(cur);
        cur.dispose();
        dx.dispose();
        dx = sum;
      }
      grads.set(x.id, dx);
      stored.add(dx);
    }
    if (!eager) continue;
    for (const t of node.saved ?? []) t.dispose();
    for (const o of node.outputs) {
      if (keepIds.has(o.id)) continue;
      const g = grads.get(o.id);
      if (!g) continue;
      grads.delete(o.id);
      stored.delete(g);
      g.dispose();
    }
  }
}

let installed = false;

/** Replaces the engine's `gradients` with the freeing walk (idempotent). */
export function installEagerBackprop(): void {
  if (installed) return;
  installed = true;
  const engine = tf.engine() as unknown as EngineInternals;
  engine.gradients = function gradients(this: EngineInternals, f: () => Tensor, xs: Tensor[], dy?: Tensor, allowNoGradients = false) {
    if (xs.length === 0) throw new Error('gradients() received an empty list of xs.');
    if (dy != null && dy.dtype !== 'float32') throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
    const y = this.scopedRun(() => this.startTape(), () => this.endTape(), () => this.tidy('forward', f));
    if (!(y instanceof tf.Tensor)) throw new Error('The result y returned by f() must be a tensor.');
    const tape = this.state.activeTape ?? [];
    const nodes = pathNodes(tape, xs, y);
    if (!allowNoGradients && nodes.length === 0) {
      throw new Error('Cannot compute the gradient of y = f(x) with respect to x: no operation inside f connects x to y');
    }
    return this.tidy('backward', () => {
      const outer = this.state.gradientDepth === 0;
      const grads = new Map<number, Tensor>([[y.id, dy ?? tf.onesLike(y)]]);
      walk(nodes, grads, new Set([y.id, ...xs.map((x) => x.id)]), outer, (fn) => this.tidy('grad', fn));
      const result = xs.map((x) => grads.get(x.id) as Tensor);
      if (outer) {
        for (const node of tape) for (const t of node.saved ?? []) t.dispose();
        this.state.activeTape = null;
      }
      return { value: y, grads: result };
    });
  };
}
