import assert from 'node:assert/strict';
import { test } from 'node:test';
import { centerCropOrPadRegion, pyRound } from '../../src/image/center-crop.js';
import { keepRatioSize, shortestEdgeSize } from '../../src/image/resize.js';

test('pyRound rounds half to even like Python 3 round()', () => {
  const cases: [number, number][] = [[0.5, 0], [1.5, 2], [2.5, 2], [10.5, 10], [11.5, 12], [-0.5, 0], [-1.5, -2], [2.4999, 2], [2.5001, 3], [7, 7]];
  for (const [x, want] of cases) assert.ok(pyRound(x) + 0 === want + 0, `round(${x}) gave ${pyRound(x)}`);
  // JavaScript's Math.round is the trap this guards against.
  assert.notEqual(pyRound(2.5), Math.round(2.5));
});

test('CenterCrop offsets of the NOTES.md examples (gray 50x54 and rgba 96x72 at 64)', () => {
  const [gw, gh] = shortestEdgeSize(50, 54, 64);
  assert.deepEqual([gw, gh], [64, 69]); // int(64 * 54 / 50) = 69
  assert.deepEqual(centerCropOrPadRegion(gw, gh, 64, 64), { left: 0, top: 2, width: 64, height: 64 });
  const [rw, rh] = shortestEdgeSize(96, 72, 64);
  assert.deepEqual([rw, rh], [85, 64]); // int(64 * 96 / 72) = 85 (truncated from 85.33)
  assert.deepEqual(centerCropOrPadRegion(rw, rh, 64, 64), { left: 10, top: 0, width: 64, height: 64 });
});

test('CenterCropOrPad pads (t - s) // 2 before and (t - s + 1) // 2 after', () => {
  // 64 wide into 64, 43 high into 64: pad top 10, bottom 11.
  assert.deepEqual(centerCropOrPadRegion(64, 43, 64, 64), { left: 0, top: -10, width: 64, height: 64 });
  // Padding on one axis and cropping on the other.
  assert.deepEqual(centerCropOrPadRegion(70, 40, 64, 64), { left: 3, top: -12, width: 64, height: 64 });
});

test('ResizeKeepRatio sizes use Python round of H / ratio', () => {
  // longest: 37x53 into 64x64 -> ratio 53/64 -> width round(37 * 64 / 53) = round(44.68) = 45.
  assert.deepEqual(keepRatioSize(37, 53, 64, 64, 1), [45, 64]);
  // shortest (non-square target 48x64): ratio = min(53/48, 37/64) = 37/64 -> [64, round(53*64/37)=92].
  assert.deepEqual(keepRatioSize(37, 53, 48, 64, 0), [64, 92]);
});
