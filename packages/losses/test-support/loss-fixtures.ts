/**
 * Test helpers (not exported from the package): run one numerical test on every backend, read
 * the reference loss fixture in place, compare arrays within tolerances.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initEngine, loadSafetensors, Rng, tf, toFloat32, toInt32 } from '@openclip/engine';
import type { RawTensor, Tensor } from '@openclip/engine';
import { referenceDir, referenceManifest } from '@openclip/test-config';

export const TEST_BACKENDS = ['cpu', 'wasm'] as const;

/** Registers `name [backend]` for each backend, initialising it first. */
export function testOnBackends(name: string, fn: (backend: string) => Promise<void> | void): void {
  for (const backend of TEST_BACKENDS) {
    test(`${name} [${backend}]`, async () => {
      await initEngine({ backend });
      const before = tf.memory().numTensors;
      errors = new Map();
      await fn(backend);
      // Fixture parity tests print their measured errors (the figures quoted in the README).
      if (/fixture/.test(name)) for (const [what, err] of errors) console.log(`# [${backend}] ${what}: max |err| ${err.toExponential(2)}`);
      errors = null;
      assert.equal(tf.memory().numTensors, before, `${name} [${backend}] leaked tensors`);
    });
  }
}

export interface LossFixture {
  json: {
    values: Record<string, number>;
    inputs: Record<string, number>;
  };
  raw: Map<string, RawTensor>;
  tolerance: { value_rtol: number; value_atol: number; grad_atol: number; grad_rtol: number };
  /** A fixture tensor as a tf tensor (int64 labels become int32). */
  tensor(name: string): Tensor;
  values(name: string): Float32Array;
}

let cached: LossFixture | null = null;

export function lossFixture(): LossFixture {
  if (cached) return cached;
  const dir = referenceDir();
  const manifest = referenceManifest();
  const kase = manifest.cases.find((c: { id: string }) => c.id === 'losses');
  if (!kase) throw new Error(`manifest.json in ${dir} has no 'losses' case`);
  const { tensors: raw } = loadSafetensors(join(dir, 'losses', 'losses.safetensors'));
  const json = JSON.parse(readFileSync(join(dir, 'losses', 'losses.json'), 'utf8'));
  const get = (name: string): RawTensor => {
    const t = raw.get(name);
    if (!t) throw new Error(`losses/losses.safetensors has no tensor '${name}'`);
    return t;
  };
  cached = {
    json,
    raw,
    tolerance: kase.tolerance,
    tensor(name) {
      const t = get(name);
      return t.dtype === 'I64' ? tf.tensor(toInt32(t, name), t.shape, 'int32') : tf.tensor(toFloat32(t), t.shape, 'float32');
    },
    values(name) {
      return toFloat32(get(name));
    },
  };
  return cached;
}


let errors: Map<string, number> | null = null;

/** Asserts |a − e| ≤ atol + rtol·|e| elementwise; returns the max absolute error. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number, what: string): number {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} vs ${expected.length}`);
  let maxErr = 0;
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    if (!(err <= atol + rtol * Math.abs(expected[i]))) {
      assert.fail(`${what}[${i}]: ${actual[i]} vs expected ${expected[i]} (|err| ${err.toExponential(3)} > atol ${atol} + rtol ${rtol})`);
    }
    maxErr = Math.max(maxErr, err);
  }
  errors?.set(what, Math.max(errors.get(what) ?? 0, maxErr));
  return maxErr;
}

/** Reads a tensor's values and disposes it. */
export function take(t: Tensor): Float32Array {
  const v = t.dataSync() as Float32Array;
  const copy = Float32Array.from(v);
  t.dispose();
  return copy;
}

/** A [n, d] float32 tensor of standard normals from a seeded stream. */
export function randn(rng: Rng, shape: number[], scale = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = rng.fillNormal(new Float32Array(n));
  if (scale !== 1) for (let i = 0; i < n; i++) data[i] *= scale;
  return tf.tensor(data, shape);
}

/** Rows normalised to unit L2 norm (as the model's features are); disposes `t`. */
export function l2normalize(t: Tensor): Tensor {
  const out = tf.tidy(() => tf.div(t, tf.norm(t, 2, 1, true)));
  t.dispose();
  return out;
}

/** Gradient-blocking identity (torch's `.detach()` inside a differentiated function). */
export const stopGradient = (x: Tensor): Tensor =>
  tf.customGrad(((a: Tensor) => ({ value: tf.clone(a), gradFunc: (dy: Tensor) => tf.zerosLike(dy) })) as never)(x) as Tensor;
