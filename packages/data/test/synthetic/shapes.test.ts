import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderSynthetic, syntheticSpec, inShape, SYNTHETIC_RGB, SYNTHETIC_CLASSNAMES, SYNTHETIC_COLORS, SYNTHETIC_SHAPES, SYNTHETIC_TEMPLATES, encodeSynthetic } from '../../src/synthetic/shapes.js';

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

/** The drawing rule written out plainly: every sub-sample of every pixel is tested against the shape. */
function renderPlainly(seed: number, index: number, size: number): Uint8Array {
  const { rng, ...spec } = syntheticSpec(seed, index);
  const base = 205 + rng.randint(40);
  const bg = [0, 1, 2].map(() => Math.min(255, base + rng.randint(21) - 10));
  const fg = SYNTHETIC_RGB[spec.color].map((c) => Math.max(0, Math.min(255, c + rng.randint(31) - 15)));
  const r = size * rng.uniform(0.17, 0.3);
  const cx = size * rng.uniform(0.25, 0.75);
  const cy = size * rng.uniform(0.25, 0.75);
  const angle = spec.shape === 'circle' ? 0 : rng.uniform(-0.26, 0.26);
  const pixels = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let hits = 0;
      for (const sy of [0.25, 0.75]) {
        for (const sx of [0.25, 0.75]) {
          const dx = (x + sx - cx) / r;
          const dy = (y + sy - cy) / r;
          if (inShape(spec.shape, Math.cos(angle) * dx + Math.sin(angle) * dy, -Math.sin(angle) * dx + Math.cos(angle) * dy)) hits++;
        }
      }
      const a = hits / 4;
      const noise = rng.randint(9) - 4;
      for (let c = 0; c < 3; c++) pixels[(y * size + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(bg[c] * (1 - a) + fg[c] * a) + noise));
    }
  }
  return pixels;
}

test('the renderer (which skips sub-samples beyond the shape radius) draws exactly what testing every sub-sample draws', () => {
  const shapes = new Set<string>();
  for (const size of [8, 13, 32, 64, 97]) {
    for (const seed of [0, 5, 123456789]) {
      for (let i = 0; i < 40; i++) {
        const img = renderSynthetic(seed, i, size);
        shapes.add(img.shape);
        assert.deepEqual(img.pixels, renderPlainly(seed, i, size), `seed ${seed} index ${i} size ${size}`);
      }
    }
  }
  assert.equal(shapes.size, SYNTHETIC_SHAPES.length);
});

test('every shape lies within the radius the renderer tests (1.2 shape units)', () => {
  for (const shape of SYNTHETIC_SHAPES) {
    for (let k = 0; k < 720; k++) {
      const a = (k / 720) * 2 * Math.PI;
      assert.equal(inShape(shape, 1.2 * Math.cos(a), 1.2 * Math.sin(a)), false, `${shape} at angle ${a}`);
    }
  }
});
