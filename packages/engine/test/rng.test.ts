import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/rng.js';

test('same seed gives the same stream; different seeds differ', () => {
  const a = new Rng(42), b = new Rng(42), c = new Rng(43);
  const xa = Array.from({ length: 8 }, () => a.nextUint32());
  assert.deepEqual(xa, Array.from({ length: 8 }, () => b.nextUint32()));
  assert.notDeepEqual(xa, Array.from({ length: 8 }, () => c.nextUint32()));
  assert.notEqual(new Rng(2 ** 40).nextUint32(), new Rng(0).nextUint32());
});

test('state save and restore continues the same stream, including the normal spare', () => {
  const r = new Rng(7);
  r.normal();
  const s = r.getState();
  const next = [r.normal(), r.random(), r.randint(1000)];
  const r2 = Rng.fromState(JSON.parse(JSON.stringify(s)));
  assert.deepEqual([r2.normal(), r2.random(), r2.randint(1000)], next);
});

test('uniform and normal moments are right', () => {
  const r = new Rng(1);
  const n = 200000;
  const u = r.fillUniform(new Float32Array(n));
  const mean = u.reduce((a, b) => a + b, 0) / n;
  assert.ok(Math.abs(mean - 0.5) < 0.005, `uniform mean ${mean}`);
  assert.ok(u.every((x) => x >= 0 && x < 1));
  const z = r.fillNormal(new Float32Array(n), 1, 2);
  const zm = z.reduce((a, b) => a + b, 0) / n;
  const zv = z.reduce((a, b) => a + (b - zm) ** 2, 0) / n;
  assert.ok(Math.abs(zm - 1) < 0.02 && Math.abs(Math.sqrt(zv) - 2) < 0.02, `normal ${zm} ${Math.sqrt(zv)}`);
  const t = r.fillTruncNormal(new Float32Array(10000), 0, 1, -0.5, 0.5);
  assert.ok(t.every((x) => x >= -0.5 && x <= 0.5));
});

test('randint is unbiased over a small range and permutation is a permutation', () => {
  const r = new Rng(3);
  const counts = [0, 0, 0];
  for (let i = 0; i < 30000; i++) counts[r.randint(3)]++;
  for (const c of counts) assert.ok(Math.abs(c - 10000) < 400, `counts ${counts}`);
  const p = r.permutation(100);
  assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
  assert.throws(() => r.randint(0), /positive integer/);
});

test('fork works for every stream and seed (state words stay unsigned)', () => {
  for (let seed = 0; seed < 200; seed++) for (let stream = 0; stream < 8; stream++) new Rng(seed).fork(stream).nextUint32();
  for (const seed of [0, 1, 2 ** 31, 2 ** 32 + 7, 2 ** 52 + 3, 9007199254740991]) {
    const r = new Rng(seed);
    assert.ok(r.getState().s.every((w) => w >= 0 && w <= 0xffffffff), `seed ${seed}`);
    Rng.fromState(r.getState());
  }
});

test('forked streams are reproducible and independent', () => {
  const f1 = new Rng(5).fork(1), f1b = new Rng(5).fork(1), f2 = new Rng(5).fork(2);
  const a = Array.from({ length: 4 }, () => f1.nextUint32());
  assert.deepEqual(a, Array.from({ length: 4 }, () => f1b.nextUint32()));
  assert.notDeepEqual(a, Array.from({ length: 4 }, () => f2.nextUint32()));
});
