import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RawTensor } from '@openclip/engine/safetensors';
import { cubicCoefficients, interpolateGrid, interpolateRows, resizePosEmbed, resizeTextPosEmbed } from '../../src/checkpoint/pos-embed.js';

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, label: string) {
  assert.equal(actual.length, expected.length, `${label}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${label}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

test('cubic coefficients: A=-0.75 Keys kernel, summing to one, hand-worked at t=0.75', () => {
  // W(x) = (A+2)|x|^3 - (A+3)|x|^2 + 1 for |x|<=1, A|x|^3 - 5A|x|^2 + 8A|x| - 4A for 1<|x|<2.
  // t = 0.75: distances 1.75, 0.75, 0.25, 1.25.
  const A = -0.75;
  const far = (x: number) => A * x ** 3 - 5 * A * x ** 2 + 8 * A * x - 4 * A;
  const near = (x: number) => (A + 2) * x ** 3 - (A + 3) * x ** 2 + 1;
  close(cubicCoefficients(0.75), [far(1.75), near(0.75), near(0.25), far(1.25)], 1e-12, 'coefficients');
  for (const t of [0, 0.1, 0.5, 0.9]) assert.ok(Math.abs(cubicCoefficients(t).reduce((a, b) => a + b) - 1) < 1e-12);
  assert.deepEqual(cubicCoefficients(0), [0, 1, 0, 0]);
});

test('hand-worked 1-D bicubic upsample [0, 1] -> 4 samples (align_corners=False, clamped borders)', () => {
  // Output i samples source x = (i + 0.5) * 2/4 - 0.5 = -0.25, 0.25, 0.75, 1.25.
  // x=-0.25: floor -1, t=0.75, taps at -2,-1,0,1 -> clamped values 0,0,0,1: only the last weight counts.
  // x=0.25: floor 0, t=0.25, taps -1,0,1,2 -> 0,0,1,1: weights 3 and 4.
  const [, , , w3a] = cubicCoefficients(0.75);
  const w = cubicCoefficients(0.25);
  const expected = [w3a, w[2] + w[3], 1 - (w[2] + w[3]), 1 - w3a];
  close(interpolateGrid(new Float32Array([0, 1]), 1, 2, 1, 1, 4), expected, 1e-7, 'upsample');
  // Worked numbers: W(1.25) = -0.10546875, so the first sample undershoots below 0.
  assert.ok(Math.abs(w3a - -0.10546875) < 1e-12);
});

test('grid interpolation matches torch F.interpolate(bicubic, align_corners=False) with and without antialias', () => {
  // torch 1.13.1: F.interpolate(torch.arange(9.).reshape(1,1,3,3), size=(s,s), mode='bicubic', align_corners=False, antialias=aa)
  const src = Float32Array.from({ length: 9 }, (_, i) => i);
  const torch = {
    up: [-0.287109, 0.314453, 1.254883, 1.856445, 1.517578, 2.119141, 3.05957, 3.661133, 4.338867, 4.94043, 5.880859, 6.482422, 6.143555, 6.745117, 7.685547, 8.287109],
    upAA: [-0.208955, 0.399879, 1.286689, 1.895523, 1.617546, 2.22638, 3.11319, 3.722024, 4.277976, 4.88681, 5.77362, 6.382454, 6.104477, 6.713312, 7.600121, 8.208955],
    down: [0.765625, 2.382812, 5.617188, 7.234375],
    downAA: [1.239165, 2.619582, 5.380417, 6.760834],
  };
  close(interpolateGrid(src, 3, 3, 1, 4, 4, { antialias: false }), torch.up, 2e-6, 'up');
  close(interpolateGrid(src, 3, 3, 1, 4, 4, { antialias: true }), torch.upAA, 2e-6, 'up antialias');
  close(interpolateGrid(src, 3, 3, 1, 2, 2, { antialias: false }), torch.down, 2e-6, 'down');
  close(interpolateGrid(src, 3, 3, 1, 2, 2, { antialias: true }), torch.downAA, 2e-6, 'down antialias');
});

test('interpolation invariants: constants stay constant, linear ramps are reproduced inside, channels stay separate', () => {
  const c = new Float32Array(6 * 6 * 2).map((_, i) => (i % 2 ? -2.5 : 7));
  for (const aa of [false, true]) {
    for (const [h, w] of [[9, 9], [4, 4], [6, 10]]) {
      const out = interpolateGrid(c, 6, 6, 2, h, w, { antialias: aa });
      for (let i = 0; i < out.length; i++) assert.ok(Math.abs(out[i] - (i % 2 ? -2.5 : 7)) < 1e-5, `constant aa=${aa} ${h}x${w}`);
    }
  }
  // f(y, x) = 2x - 3y: the A=-0.5 kernel of the antialiased path reproduces linear functions away from borders.
  const ramp = Float32Array.from({ length: 64 }, (_, i) => 2 * (i % 8) - 3 * Math.floor(i / 8));
  const out = interpolateGrid(ramp, 8, 8, 1, 16, 16, { antialias: true });
  for (let y = 4; y < 12; y++) {
    for (let x = 4; x < 12; x++) {
      const sy = (y + 0.5) / 2 - 0.5;
      const sx = (x + 0.5) / 2 - 0.5;
      assert.ok(Math.abs(out[y * 16 + x] - (2 * sx - 3 * sy)) < 1e-5, `ramp at ${y},${x}`);
    }
  }
  // linear text interpolation: halfway samples of a line are on the line
  const rows = Float32Array.from({ length: 10 }, (_, i) => i * 3);
  close(interpolateRows(rows, 10, 1, 20).subarray(2, 18), Array.from({ length: 16 }, (_, k) => 3 * ((k + 2 + 0.5) / 2 - 0.5)), 1e-5, 'linear rows');
});

test('resizePosEmbed keeps the class token, resizes the square grid, and is a no-op at the same size', () => {
  const width = 3;
  const oldGrid = 4;
  const data = Float32Array.from({ length: (1 + oldGrid * oldGrid) * width }, (_, i) => Math.sin(i * 0.37));
  const sd = new Map<string, RawTensor>([['visual.positional_embedding', { dtype: 'F32', shape: [17, width], data }]]);
  assert.equal(resizePosEmbed(sd, 4), false);
  assert.equal(sd.get('visual.positional_embedding')!.data, data);
  assert.equal(resizePosEmbed(sd, [6, 6], { antialias: false }), true);
  const t = sd.get('visual.positional_embedding')!;
  assert.deepEqual(t.shape, [37, width]);
  const out = t.data as Float32Array;
  close(out.subarray(0, width), data.subarray(0, width), 0, 'class token');
  close(out.subarray(width), interpolateGrid(data.subarray(width), 4, 4, width, 6, 6, { antialias: false }), 0, 'grid');
  // OpenCLIP's default is antialias=True.
  const sd2 = new Map<string, RawTensor>([['visual.positional_embedding', { dtype: 'F32', shape: [17, width], data }]]);
  resizePosEmbed(sd2, 2);
  close((sd2.get('visual.positional_embedding')!.data as Float32Array).subarray(width), interpolateGrid(data.subarray(width), 4, 4, width, 2, 2, { antialias: true }), 0, 'default antialias');
  const bad = new Map<string, RawTensor>([['visual.positional_embedding', { dtype: 'F32', shape: [1 + 12, 1], data: new Float32Array(13) }]]);
  assert.throws(() => resizePosEmbed(bad, 4), /12 grid tokens .* square/);
  assert.equal(resizePosEmbed(new Map(), 4), false);
});

test('resizeTextPosEmbed interpolates positions linearly and rejects a width change', () => {
  const data = Float32Array.from({ length: 8 * 2 }, (_, i) => i);
  const sd = new Map<string, RawTensor>([['positional_embedding', { dtype: 'F32', shape: [8, 2], data }]]);
  assert.equal(resizeTextPosEmbed(sd, 8, 2), false);
  assert.equal(resizeTextPosEmbed(sd, 4, 2), true);
  assert.deepEqual(sd.get('positional_embedding')!.shape, [4, 2]);
  // Downsampling by 2 without antialias samples source positions 0.5, 2.5, 4.5, 6.5 (midpoints of row pairs).
  close(sd.get('positional_embedding')!.data as Float32Array, [1, 2, 5, 6, 9, 10, 13, 14], 1e-6, 'text');
  assert.throws(() => resizeTextPosEmbed(sd, 8, 3), /width changed/);
});
