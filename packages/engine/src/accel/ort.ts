/**
 * The npm-only fast path: ONNX Runtime's CPU kernels (MLAS GEMM, vectorised elementwise and
 * reductions), reached through `onnxruntime-node`'s prebuilt binaries, behind the same
 * interface as the native OpenBLAS addon — so native-kernels.ts and fused-kernels.ts install
 * either one unchanged.
 *
 * Each primitive is a tiny ONNX graph with dynamic shapes (written by onnx-graph.ts), loaded
 * once into its own session. Inputs are views of the wasm heap and outputs are pre-allocated
 * wasm-heap views, so ONNX Runtime reads and writes TensorFlow.js's memory directly. The public
 * `InferenceSession.run` is asynchronous and TF.js kernels are synchronous, so this uses the
 * package's native binding (`dist/binding.js`), whose `run` is synchronous; that is internal
 * API, so the version is pinned and checked, and anything unexpected drops the tier with the
 * reason rather than failing.
 */
import { createRequire } from 'node:module';
import type { NativeAddon } from './native.js';
import { collapseTranspose, transposeInto } from './js-kernels.js';
import { type OnnxGraphSpec, type OnnxNode, encodeOnnxModel } from './onnx-graph.js';
import { collectYoung } from './gc.js';

/** onnxruntime-node versions whose internal binding this was written and tested against. */
export const ORT_TESTED = /^1\.(2[2-9]|3\d)\./;

interface OrtTensorLike {
  type: string;
  dims: readonly number[];
  data: Float32Array | Int32Array | BigInt64Array;
}
type TensorCtor = new (type: string, data: Float32Array | Int32Array | BigInt64Array, dims: readonly number[]) => OrtTensorLike;
interface BindingSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, OrtTensorLike>, fetches: Record<string, OrtTensorLike | null>, options: object): unknown;
  dispose?(): void;
}
interface Binding {
  InferenceSession: new () => BindingSession;
}

/** A loaded graph: runs with the given feeds, writing into the given pre-allocated outputs. */
interface Runner {
  run(feeds: Record<string, OrtTensorLike>, fetches: Record<string, OrtTensorLike | null>, options?: object): void;
}

/**
 * onnxruntime-node's binding copies every output into a new ArrayBuffer, even a pre-allocated one
 * it has already written. Those copies are garbage at once, but until a collection frees them each
 * one is fresh memory: page faults on every large call (with 14 µs per fault, 57 ms of a 61 ms
 * Erf over 5 M elements here; 1.2 M faults in 8 bench_small steps against 0.4 M on the openblas
 * tier). Once this many bytes of copies have piled up (1 MB: every large product), a scavenge hands their memory back to
 * malloc, which gives it to the next copies without faults (a scavenge per call would cost more
 * than it saves on small products).
 */
const YOUNG_GC_BYTES = 1 * 2 ** 20;

export interface OrtStatus {
  addon: NativeAddon | null;
  detail: string;
  version?: string;
}

let status: OrtStatus | null = null;
let threadsInUse = 0;

const F32 = 'float32';

/** Loads onnxruntime-node once; never throws (the status says what is missing). */
export function loadOrt(threads: number): OrtStatus {
  if (status && (status.addon === null || threads === threadsInUse)) return status;
  if (process.env.OPENCLIP_ORT === '0') return (status = { addon: null, detail: 'disabled by OPENCLIP_ORT=0' });
  const req = createRequire(import.meta.url);
  let version: string;
  let binding: Binding;
  let Tensor: TensorCtor;
  try {
    const pkgPath = req.resolve('onnxruntime-node/package.json');
    version = (req(pkgPath) as { version: string }).version;
    if (!ORT_TESTED.test(version)) {
      return (status = { addon: null, detail: `onnxruntime-node ${version} is not a version this tier was tested with (1.22–1.3x)` });
    }
    const ortReq = createRequire(pkgPath);
    const b = ortReq('./dist/binding.js') as { binding: Binding; initOrt?: () => void };
    b.initOrt?.();
    binding = b.binding;
    Tensor = (ortReq('onnxruntime-common') as { Tensor: TensorCtor }).Tensor;
    if (typeof binding?.InferenceSession !== 'function' || typeof Tensor !== 'function') throw new Error('unexpected binding layout');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'MODULE_NOT_FOUND' ? 'onnxruntime-node is not installed' : `onnxruntime-node did not load: ${err.message.split('\n')[0]}`;
    return (status = { addon: null, detail: why });
  }
  try {
    const addon = createOrtAddon(binding, Tensor, threads);
    selfTest(addon);
    threadsInUse = threads;
    return (status = { addon, detail: `ONNX Runtime ${version} (onnxruntime-node, MLAS)`, version });
  } catch (e) {
    return (status = { addon: null, detail: `onnxruntime-node ${version} failed its self-test: ${(e as Error).message.split('\n')[0]}` });
  }
}

/** A 2×3·3×2 product and a transpose checked against plain arithmetic before the tier is used. */
function selfTest(addon: NativeAddon): void {
  const a = Float32Array.of(1, 2, 3, 4, 5, 6), b = Float32Array.of(1, 0, 0, 1, 1, 1), c = new Float32Array(4);
  addon.sgemm(false, false, 1, 2, 2, 3, a, 0, b, 0, c, 4, Float32Array.of(10, 20));
  const want = [14, 25, 20, 31];
  if (c.some((v, i) => v !== want[i])) throw new Error(`sgemm gave [${Array.from(c)}], expected [${want}]`);
  const t = new Float32Array(6);
  addon.transpose(a, [2, 3], [1, 0], t);
  if (Array.from(t).join() !== '1,4,2,5,3,6') throw new Error(`transpose gave [${Array.from(t)}]`);
}

function createOrtAddon(binding: Binding, Tensor: TensorCtor, threads: number): NativeAddon {
  const options = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableCpuMemArena: true,
    logSeverityLevel: 3,
    // idle pool threads sleep instead of spinning: TF.js runs on the main thread between calls
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  const sessions = new Map<string, Runner>();
  let garbage = 0; // bytes of output copies made since the last scavenge
  const session = (key: string, spec: () => OnnxGraphSpec): Runner => {
    let s = sessions.get(key);
    if (!s) {
      const bytes = encodeOnnxModel(spec());
      const raw = new binding.InferenceSession();
      raw.loadModel(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength, options);
      s = {
        run: (feeds, fetches) => {
          raw.run(feeds, fetches, {});
          // the binding returns every output as a fresh copy even when it wrote into ours: free those copies now
          for (const v of Object.values(fetches)) garbage += v?.data.byteLength ?? 0;
          if (garbage >= YOUNG_GC_BYTES) {
            garbage = 0;
            collectYoung();
          }
        },
      };
      sessions.set(key, s);
    }
    return s;
  };
  const t = (data: Float32Array | Int32Array | BigInt64Array, dims: readonly number[]) =>
    new Tensor(data instanceof Float32Array ? F32 : data instanceof Int32Array ? 'int32' : 'int64', data, dims);
  const io = (names: string[], dtype: 'float32' | 'int32' | 'int64' = F32) => names.map((name) => ({ name, dtype }));
  const graph = (name: string, inputs: string[], outputs: string[], nodes: OnnxNode[], dtype: 'float32' | 'int32' = F32): OnnxGraphSpec =>
    ({ name, inputs: io(inputs, dtype), outputs: io(outputs, dtype), nodes });
  const scalarCache = new Map<number, Float32Array>();
  const scalar = (v: number) => {
    let s = scalarCache.get(v);
    if (!s) scalarCache.set(v, (s = Float32Array.of(v)));
    return t(s, [1]);
  };

  const sgemm: NativeAddon['sgemm'] = (ta, tb, batch, M, N, K, A, strideA, B, strideB, C, strideC, bias) => {
    if (M * N * batch === 0) return;
    if (strideC !== M * N) throw new Error(`ort sgemm: output stride ${strideC} != M*N`);
    if (K === 0) {
      // an empty contraction: the product is zero (plus the bias)
      for (let i = 0; i < batch * M; i++) for (let j = 0; j < N; j++) C[i * N + j] = bias ? bias[j] : 0;
      return;
    }
    const aDims = ta ? [K, M] : [M, K];
    const bDims = tb ? [N, K] : [K, N];
    let feedA: OrtTensorLike, feedB: OrtTensorLike, out: OrtTensorLike;
    if (batch === 1) {
      feedA = t(A.subarray(0, M * K), aDims);
      feedB = t(B.subarray(0, K * N), bDims);
      out = t(C.subarray(0, M * N), [M, N]);
    } else if (strideB === 0 && !ta) {
      // batched A × shared B: one tall product
      feedA = t(A.subarray(0, batch * M * K), [batch * M, K]);
      feedB = t(B.subarray(0, K * N), bDims);
      out = t(C.subarray(0, batch * M * N), [batch * M, N]);
    } else {
      feedA = strideA === 0 ? t(A.subarray(0, M * K), aDims) : t(A.subarray(0, batch * M * K), [batch, ...aDims]);
      feedB = strideB === 0 ? t(B.subarray(0, K * N), bDims) : t(B.subarray(0, batch * K * N), [batch, ...bDims]);
      out = t(C.subarray(0, batch * M * N), [batch, M, N]);
    }
    // 2-D products go to Gemm: MLAS's GEMM with the transposes and the bias in one node
    const twoD = feedA.dims.length === 2 && feedB.dims.length === 2;
    const key = `mm${+ta}${+tb}${bias ? 'b' : ''}${twoD ? 'g' : ''}`;
    const s = session(key, () => {
      if (twoD) {
        return graph(key, bias ? ['a', 'b', 'bias'] : ['a', 'b'], ['c'],
          [{ op: 'Gemm', inputs: bias ? ['a', 'b', 'bias'] : ['a', 'b'], outputs: ['c'], attrs: { transA: +ta, transB: +tb } }]);
      }
      const nodes: OnnxNode[] = [{ op: 'FusedMatMul', domain: 'com.microsoft', inputs: ['a', 'b'], outputs: [bias ? 'ab' : 'c'],
        attrs: { transA: +ta, transB: +tb, alpha: { float: 1 } } }];
      if (bias) nodes.push({ op: 'Add', inputs: ['ab', 'bias'], outputs: ['c'] });
      return graph(key, bias ? ['a', 'b', 'bias'] : ['a', 'b'], ['c'], nodes);
    });
    const feeds: Record<string, OrtTensorLike> = { a: feedA, b: feedB };
    if (bias) feeds.bias = t(bias.subarray(0, N), [N]);
    s.run(feeds, { c: out }, {});
  };

  const transpose: NativeAddon['transpose'] = (x, shape, perm, y) => {
    const c = collapseTranspose(shape, perm);
    if (c.shape.length <= 1 || y.length < 4096) {
      transposeInto(x, shape, perm, y);
      return;
    }
    const dtype = x instanceof Float32Array ? F32 : 'int32';
    const key = `tr${dtype}:${c.perm.join(',')}`;
    const s = session(key, () => graph(key, ['x'], ['y'], [{ op: 'Transpose', inputs: ['x'], outputs: ['y'], attrs: { perm: c.perm } }], dtype));
    s.run({ x: t(x.subarray(0, y.length), c.shape) }, { y: t(y.subarray(0, y.length), c.perm.map((p) => c.shape[p])) }, {});
  };

  const reduceSum: NativeAddon['reduceSum'] = (x, shape, axes, y) => {
    // merge runs of adjacent reduced / kept axes (unit axes dropped) into one axis each
    const red = new Set(axes.map((a) => (a < 0 ? a + shape.length : a)));
    const dims: number[] = [], isRed: boolean[] = [];
    shape.forEach((d, i) => {
      if (d === 1) return;
      const r = red.has(i);
      if (dims.length && isRed[isRed.length - 1] === r) dims[dims.length - 1] *= d;
      else {
        dims.push(d);
        isRed.push(r);
      }
    });
    const total = dims.reduce((a, b) => a * b, 1);
    if (!isRed.includes(true) || total === 0) {
      if (total === 0) y.fill(0);
      else y.set(x.subarray(0, y.length));
      return;
    }
    const redAxes = isRed.flatMap((r, i) => (r ? [i] : []));
    const key = `sum:${dims.length}:${redAxes.join(',')}`;
    const s = session(key, () => ({
      name: key,
      inputs: [{ name: 'x', dtype: F32 }],
      outputs: [{ name: 'y', dtype: F32 }],
      constants: [{ name: 'axes', dtype: 'int64', dims: [redAxes.length], values: redAxes }],
      nodes: [{ op: 'ReduceSum', inputs: ['x', 'axes'], outputs: ['y'], attrs: { keepdims: 0 } }],
    }));
    s.run({ x: t(x.subarray(0, total), dims) }, { y: t(y.subarray(0, y.length), dims.filter((_, i) => !isRed[i])) }, {});
  };

  const unary = (op: string, domain?: string) => (x: Float32Array, y: Float32Array) => {
    if (y.length === 0) return;
    const key = `u:${op}`;
    const s = session(key, () => graph(key, ['x'], ['y'], [{ op, domain, inputs: ['x'], outputs: ['y'] }]));
    s.run({ x: t(x.subarray(0, y.length), [y.length]) }, { y: t(y, [y.length]) }, {});
  };

  // d/dx of x·Φ(x) = Φ(x) + x·φ(x), with Φ(x) = ½(1 + erf(x/√2)), φ(x) = exp(−x²/2)/√(2π)
  const geluBwd: NativeAddon['geluBwd'] = (dy, x, dx) => {
    const n = dx.length;
    if (n === 0) return;
    const s = session('geluBwd', () => ({
      name: 'geluBwd',
      inputs: io(['dy', 'x']),
      outputs: io(['dx']),
      constants: [
        { name: 'rsqrt2', dtype: F32, dims: [], values: [Math.SQRT1_2] },
        { name: 'half', dtype: F32, dims: [], values: [0.5] },
        { name: 'nhalf', dtype: F32, dims: [], values: [-0.5] },
        { name: 'rsqrt2pi', dtype: F32, dims: [], values: [1 / Math.sqrt(2 * Math.PI)] },
      ],
      nodes: [
        { op: 'Mul', inputs: ['x', 'rsqrt2'], outputs: ['xs'] },
        { op: 'Erf', inputs: ['xs'], outputs: ['e'] },
        { op: 'Mul', inputs: ['e', 'half'], outputs: ['eh'] },
        { op: 'Add', inputs: ['eh', 'half'], outputs: ['cdf'] },
        { op: 'Mul', inputs: ['x', 'x'], outputs: ['x2'] },
        { op: 'Mul', inputs: ['x2', 'nhalf'], outputs: ['x2h'] },
        { op: 'Exp', inputs: ['x2h'], outputs: ['ex'] },
        { op: 'Mul', inputs: ['ex', 'rsqrt2pi'], outputs: ['pdf'] },
        { op: 'Mul', inputs: ['x', 'pdf'], outputs: ['xpdf'] },
        { op: 'Add', inputs: ['cdf', 'xpdf'], outputs: ['d'] },
        { op: 'Mul', inputs: ['dy', 'd'], outputs: ['dx'] },
      ],
    }));
    s.run({ dy: t(dy.subarray(0, n), [n]), x: t(x.subarray(0, n), [n]) }, { dx: t(dx, [n]) }, {});
  };

  const onesCache = new Map<string, Float32Array>();
  const filled = (n: number, v: number) => {
    const k = `${n}:${v}`;
    let a = onesCache.get(k);
    if (!a) onesCache.set(k, (a = new Float32Array(n).fill(v)));
    return a;
  };

  const layerNormFwd: NativeAddon['layerNormFwd'] = (x, gamma, beta, rows, cols, eps, y, mean, rstd) => {
    if (rows * cols === 0) return;
    const key = `lnf:${eps}`;
    const s = session(key, () => ({
      name: 'layerNormFwd',
      inputs: io(['x', 'g', 'b']),
      outputs: io(['y', 'mean', 'rstd']),
      nodes: [{ op: 'LayerNormalization', inputs: ['x', 'g', 'b'], outputs: ['y', 'mean', 'rstd'], attrs: { axis: -1, epsilon: { float: eps } } }],
    }));
    s.run(
      { x: t(x.subarray(0, rows * cols), [rows, cols]), g: t(gamma ?? filled(cols, 1), [cols]), b: t(beta ?? filled(cols, 0), [cols]) },
      { y: t(y.subarray(0, rows * cols), [rows, cols]), mean: t(mean.subarray(0, rows), [rows, 1]), rstd: t(rstd.subarray(0, rows), [rows, 1]) },
      {},
    );
  };

  // x̂ = (x − μ)·r; g = dy·γ; dx = r·(g − mean(g) − x̂·mean(g·x̂)); dγ = Σ dy·x̂; dβ = Σ dy
  const layerNormBwd: NativeAddon['layerNormBwd'] = (dy, x, mean, rstd, gamma, rows, cols, dx, dgamma, dbeta) => {
    if (rows * cols === 0) {
      dgamma?.fill(0);
      dbeta?.fill(0);
      return;
    }
    const s = session('lnb', () => ({
      name: 'layerNormBwd',
      inputs: io(['dy', 'x', 'mean', 'rstd', 'g']),
      outputs: io(['dx', 'dg', 'db']),
      constants: [
        { name: 'ax0', dtype: 'int64', dims: [1], values: [0] },
      ],
      nodes: <OnnxNode[]>[
        { op: 'Sub', inputs: ['x', 'mean'], outputs: ['xc'] },
        { op: 'Mul', inputs: ['xc', 'rstd'], outputs: ['xh'] },
        { op: 'Mul', inputs: ['dy', 'g'], outputs: ['gd'] },
        { op: 'ReduceMean', inputs: ['gd'], outputs: ['m1'], attrs: { axes: [1], keepdims: 1 } },
        { op: 'Mul', inputs: ['gd', 'xh'], outputs: ['gx'] },
        { op: 'ReduceMean', inputs: ['gx'], outputs: ['m2'], attrs: { axes: [1], keepdims: 1 } },
        { op: 'Mul', inputs: ['xh', 'm2'], outputs: ['xm2'] },
        { op: 'Sub', inputs: ['gd', 'm1'], outputs: ['d1'] },
        { op: 'Sub', inputs: ['d1', 'xm2'], outputs: ['d2'] },
        { op: 'Mul', inputs: ['d2', 'rstd'], outputs: ['dx'] },
        { op: 'Mul', inputs: ['dy', 'xh'], outputs: ['dyx'] },
        { op: 'ReduceSum', inputs: ['dyx', 'ax0'], outputs: ['dg'], attrs: { keepdims: 0 } },
        { op: 'ReduceSum', inputs: ['dy', 'ax0'], outputs: ['db'], attrs: { keepdims: 0 } },
      ],
    }));
    const n = rows * cols;
    s.run(
      { dy: t(dy.subarray(0, n), [rows, cols]), x: t(x.subarray(0, n), [rows, cols]), mean: t(mean.subarray(0, rows), [rows, 1]),
        rstd: t(rstd.subarray(0, rows), [rows, 1]), g: t(gamma ?? filled(cols, 1), [cols]) },
      { dx: t(dx.subarray(0, n), [rows, cols]), dg: t(dgamma ?? new Float32Array(cols), [cols]), db: t(dbeta ?? new Float32Array(cols), [cols]) },
      {},
    );
  };

  // torch.optim.AdamW's arithmetic in float32, as the native kernel does it
  const adamw: NativeAddon['adamw'] = (p, g, m, v, pOut, mOut, vOut, lr, beta1, beta2, eps, weightDecay, step) => {
    const n = p.length;
    if (n === 0) return;
    const s = session('adamw', () => ({
      name: 'adamw',
      inputs: io(['p', 'g', 'm', 'v', 'b1', 'c1', 'b2', 'c2', 'decay', 'stepSize', 'bc2sqrt', 'eps']),
      outputs: io(['po', 'mo', 'vo']),
      nodes: [
        { op: 'Mul', inputs: ['m', 'b1'], outputs: ['m1'] },
        { op: 'Mul', inputs: ['g', 'c1'], outputs: ['g1'] },
        { op: 'Add', inputs: ['m1', 'g1'], outputs: ['mo'] },
        { op: 'Mul', inputs: ['v', 'b2'], outputs: ['v1'] },
        { op: 'Mul', inputs: ['g', 'c2'], outputs: ['gc'] },
        { op: 'Mul', inputs: ['gc', 'g'], outputs: ['g2'] },
        { op: 'Add', inputs: ['v1', 'g2'], outputs: ['vo'] },
        { op: 'Sqrt', inputs: ['vo'], outputs: ['sv'] },
        { op: 'Div', inputs: ['sv', 'bc2sqrt'], outputs: ['sv2'] },
        { op: 'Add', inputs: ['sv2', 'eps'], outputs: ['den'] },
        { op: 'Mul', inputs: ['mo', 'stepSize'], outputs: ['num'] },
        { op: 'Div', inputs: ['num', 'den'], outputs: ['upd'] },
        { op: 'Mul', inputs: ['p', 'decay'], outputs: ['pd'] },
        { op: 'Sub', inputs: ['pd', 'upd'], outputs: ['po'] },
      ],
    }));
    const bc1 = 1 - beta1 ** step, bc2 = 1 - beta2 ** step;
    s.run(
      { p: t(p, [n]), g: t(g.subarray(0, n), [n]), m: t(m.subarray(0, n), [n]), v: t(v.subarray(0, n), [n]),
        b1: scalar(Math.fround(beta1)), c1: scalar(Math.fround(1 - beta1)), b2: scalar(Math.fround(beta2)), c2: scalar(Math.fround(1 - beta2)),
        decay: scalar(Math.fround(1 - lr * weightDecay)), stepSize: scalar(Math.fround(lr / bc1)), bc2sqrt: scalar(Math.fround(Math.sqrt(bc2))),
        eps: scalar(Math.fround(eps)) },
      { po: t(pOut.subarray(0, n), [n]), mo: t(mOut.subarray(0, n), [n]), vo: t(vOut.subarray(0, n), [n]) },
      {},
    );
  };

  return {
    blasInit: () => ({ ok: true, lib: 'onnxruntime-node' }),
    setThreads: () => threads,
    sgemm,
    transpose,
    reduceSum,
    exp: unary('Exp'),
    erf: unary('Erf'),
    geluFwd: unary('Gelu', 'com.microsoft'),
    geluBwd,
    layerNormFwd,
    layerNormBwd,
    adamw,
  };
}
