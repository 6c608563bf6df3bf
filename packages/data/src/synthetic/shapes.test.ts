import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderSynthetic, syntheticSpec, SYNTHETIC_CLASSNAMES, SYNTHETIC_COLORS, SYNTHETIC_SHAPES, SYNTHETIC_TEMPLATES, encodeSynthetic } from './shapes.js';

test('class names: every colour x shape, sorted, label = index', () => {
  assert.equal(SYNTHETIC_CLASSNAMES.length, SYNTHETIC_COLORS.length * SYNTHETIC_SHAPES.length);
  assert.deepEqual([...SYNTHETIC_CLASSNAMES], [...SYNTHETIC_CLASSNAMES].sort());
  for (let i = 0; i < 100; i++) {
    const s = syntheticSpec(3, i);
    assert.equal(SYNTHETIC_CLASSNAMES[s.label], `${s.color} ${s.shape}`);
    const article = /^[aeiou]/.test(s.color) ? 'an' : 'a';
    const phrase = `${article} ${s.color} ${s.shape}`;
    assert.ok(SYNTHETIC_TEMPLATES.some((t) => t.replace('{}', phrase) === s.caption), s.caption);
  }
});

test('classes are balanced: each block of 36 consecutive samples holds every class once', () => {
  const n = SYNTHETIC_CLASSNAMES.length;
  for (const block of [0, 1, 7]) {
    const labels = Array.from({ length: n }, (_, i) => syntheticSpec(11, block * n + i).label).sort((a, b) => a - b);
    assert.deepEqual(labels, Array.from({ length: n }, (_, i) => i));
  }
});

test('images are deterministic from (seed, index) and the shape is drawn in its colour', () => {
  const a = renderSynthetic(5, 17, 48);
  const b = renderSynthetic(5, 17, 48);
  assert.deepEqual(a.pixels, b.pixels);
  assert.notDeepEqual(renderSynthetic(6, 17, 48).pixels, a.pixels);
  const dominant: Record<string, (r: number, g: number, b: number) => boolean> = {
    red: (r, g, b) => r > 150 && g < 90 && b < 90,
    green: (r, g, b) => g > 110 && r < 90 && b < 110,
    blue: (r, g, b) => b > 150 && r < 90 && g < 130,
    yellow: (r, g, b) => r > 180 && g > 150 && b < 90,
    purple: (r, g, b) => r > 90 && b > 120 && g < 100,
    orange: (r, g, b) => r > 200 && g > 90 && g < 180 && b < 80,
  };
  for (let i = 0; i < 36; i++) {
    const img = renderSynthetic(9, i, 64);
    let hits = 0;
    for (let p = 0; p < img.pixels.length; p += 3) if (dominant[img.color](img.pixels[p], img.pixels[p + 1], img.pixels[p + 2])) hits++;
    const frac = hits / (64 * 64);
    // Shapes cover a few percent up to ~30% of the image; the background never matches a colour.
    assert.ok(frac > 0.02 && frac < 0.5, `${img.className}: ${frac}`);
  }
});

test('encoded PNG round-trips to the same pixels (decode path is exercised)', async () => {
  const { default: sharp } = await import('sharp');
  const enc = await encodeSynthetic(2, 4, 32, 'png');
  const { data, info } = await sharp(enc.bytes).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.width, 32);
  assert.deepEqual(new Uint8Array(data), renderSynthetic(2, 4, 32).pixels);
});
