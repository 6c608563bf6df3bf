import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Rng } from '@openclip/engine/rng';
import { fixtureSkip, referenceCase, referenceDirOrNull } from '@openclip/test-config';
import { decodeImage } from '../../src/image/decode.js';
import { imageTransform } from '../../src/image/image-transform.js';
import { makePilImage } from '../../src/image/pil-image.js';
import { randomResizedCropRegion } from '../../src/image/random-resized-crop.js';
import { tensorToRgb } from '../../src/image/to-tensor.js';

// The pictures of the reference fixtures' preprocess case, chosen by kind from the manifest: a
// JPEG (`photo`) and the PNG farthest from square (`wide`, for padding), with their sizes from
// the `<file>/decoded_rgb_u8` tensor shapes [H, W, 3].
const skip = fixtureSkip('preprocess');
const pictures = skip ? [] : (referenceCase('preprocess').files as string[])
  .filter((f) => /\.(jpe?g|png)$/i.test(f))
  .map((f) => {
    const [h, w] = referenceCase('preprocess').tensors[`${f.split('/').pop()}/decoded_rgb_u8`].shape as [number, number];
    return { file: f, w, h };
  });
const jpeg = pictures.find((p) => /\.jpe?g$/i.test(p.file));
const wideOne = pictures.filter((p) => /\.png$/i.test(p.file)).sort((a, b) => Math.max(b.w / b.h, b.h / b.w) - Math.max(a.w / a.h, a.h / a.w))[0];
const noPictures = skip || (!jpeg || !wideOne ? 'the preprocess case of the reference fixtures has no JPEG or no PNG' : false);
const read = (p: { file: string } | undefined) => (noPictures || !p ? new Uint8Array(0) : readFileSync(join(referenceDirOrNull()!, p.file)));
const photo = read(jpeg);
const shapes = read(wideOne);

function sameData(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

test('train transform is deterministic given the seed and has the configured shape', { skip: noPictures }, async () => {
  // A wide scale range gives random crops (with scale >= 0.9 a picture wider than 4:3 would
  // always fall back to the centre).
  const aug = { scale: [0.3, 1] };
  const t1 = imageTransform({ image_size: 64 }, { isTrain: true, rng: new Rng(42), aug });
  const t2 = imageTransform({ image_size: 64 }, { isTrain: true, rng: new Rng(42), aug });
  const t3 = imageTransform({ image_size: 64 }, { isTrain: true, rng: new Rng(43), aug });
  const outs1 = [await t1(shapes), await t1(shapes)];
  const outs2 = [await t2(shapes), await t2(shapes)];
  const out3 = await t3(shapes);
  for (const o of [...outs1, ...outs2, out3]) assert.deepEqual(o.shape, [3, 64, 64]);
  assert.ok(sameData(outs1[0].data, outs2[0].data) && sameData(outs1[1].data, outs2[1].data), 'same seed, same crops');
  assert.ok(!sameData(outs1[0].data, outs1[1].data), 'successive samples differ');
  assert.ok(!sameData(outs1[0].data, out3.data), 'another seed differs');
  // A per-call rng overrides the transform's.
  const a = await t1(shapes, { rng: new Rng(9) });
  const b = await t3(shapes, { rng: new Rng(9) });
  assert.ok(sameData(a.data, b.data));
  const rect = imageTransform({ image_size: [48, 80] }, { isTrain: true });
  assert.deepEqual((await rect(photo)).shape, [3, 48, 80]);
  assert.deepEqual(rect.outputShape, [3, 48, 80]);
});

test('RandomResizedCrop regions stay inside the image with area within the scale bounds', () => {
  const rng = new Rng(7);
  const ratio: [number, number] = [3 / 4, 4 / 3];
  for (let i = 0; i < 2000; i++) {
    const W = 1 + rng.randint(600);
    const H = 1 + rng.randint(600);
    const scale: [number, number] = i % 2 ? [0.9, 1.0] : [0.08, 1.0];
    const r = randomResizedCropRegion(W, H, scale, ratio, rng);
    assert.ok(r.left >= 0 && r.top >= 0 && r.width > 0 && r.height > 0 && r.left + r.width <= W && r.top + r.height <= H, `${W}x${H}: ${JSON.stringify(r)}`);
    const area = r.width * r.height;
    // Rounding w and h moves the area by at most (w + h) / 2 + 1/4; the central fallback
    // (after ten misses) may take the whole image, so only the upper bound applies there.
    const slack = (r.width + r.height) / 2 + 0.25;
    assert.ok(area <= scale[1] * W * H + slack, `${W}x${H}: area ${area} above scale`);
    const aspect = r.width / r.height;
    const fallback = r.width === W || r.height === H;
    if (!fallback) {
      assert.ok(area >= scale[0] * W * H - slack, `${W}x${H}: area ${area} below scale ${scale[0]}`);
      assert.ok(aspect >= (3 / 4) * (1 - 2 / r.height) - 1e-9 && aspect <= (4 / 3) * (1 + 2 / r.height) + 1e-9, `aspect ${aspect}`);
    }
  }
});

test('colour jitter and grayscale options of the training transform', { skip: noPictures }, async () => {
  const grey = imageTransform({ image_size: 32 }, { isTrain: true, aug: { gray_scale_prob: 1 } });
  const g = await grey(photo);
  const rgb = tensorToRgb(g, grey.config.mean, grey.config.std);
  for (let i = 0; i < rgb.length; i += 3) assert.ok(rgb[i] === rgb[i + 1] && rgb[i] === rgb[i + 2], 'grayscale replicates luma');
  const base = imageTransform({ image_size: 32 }, { isTrain: true, rng: new Rng(1) });
  const jit = imageTransform({ image_size: 32 }, { isTrain: true, rng: new Rng(1), aug: { color_jitter: [0.4, 0.4, 0.4, 0.1], color_jitter_prob: 1 } });
  assert.ok(!sameData((await base(photo)).data, (await jit(photo)).data), 'jitter changes pixels');
  assert.throws(() => imageTransform({}, { isTrain: true, aug: { color_jitter_prob: 0.5 } }), /needs color_jitter as 4 numbers/);
  assert.throws(() => imageTransform({}, { isTrain: true, aug: { use_timm: true } }), /timm/);
  const warnings: string[] = [];
  imageTransform({}, { isTrain: true, aug: { ratio: [0.5, 2], re_prob: 0.25 }, warn: (m) => warnings.push(m) });
  assert.match(warnings[0], /ignored without timm.*ratio, re_prob/);
});

test('longest mode pads with fill_color (palette images with palette entry fill_color)', { skip: noPictures }, async () => {
  const t = imageTransform({ image_size: 64, resize_mode: 'longest', fill_color: 7 });
  const out = tensorToRgb(await t(shapes), t.config.mean, t.config.std);
  // The longer side fills 64 pixels; the shorter is padded on both sides, so with an aspect of
  // 1.1 or more the first and last rows (wide) or columns (tall) are padding.
  const { w, h } = wideOne!;
  assert.ok(Math.max(w / h, h / w) >= 1.1, `${wideOne!.file} (${w}x${h}) is too close to square to pad`);
  const at = (y: number, x: number, ch: number) => out[(y * 64 + x) * 3 + ch];
  for (const edge of [0, 63]) {
    for (let i = 0; i < 64; i++) for (let ch = 0; ch < 3; ch++) assert.equal(w > h ? at(edge, i, ch) : at(i, edge, ch), 7);
  }
  const palette = new Uint8Array(256 * 3);
  palette.set([11, 22, 33], 7 * 3);
  const p = makePilImage('P', 4, 2, new Uint8Array(4 * 2 * 3).fill(100), palette);
  const padded = tensorToRgb(t.applyDecoded(p), t.config.mean, t.config.std);
  assert.deepEqual([...padded.subarray(0, 3)], [11, 22, 33]);
});

test('decoded images and caller-provided output buffers are accepted', { skip: noPictures }, async () => {
  const t = imageTransform({ image_size: 32 });
  const img = await decodeImage(photo, 'photo');
  const fromBytes = await t(photo);
  const out = new Float32Array(3 * 32 * 32);
  const fromImage = await t(img, { out });
  assert.equal(fromImage.data, out);
  assert.ok(sameData(fromBytes.data, out));
  assert.ok(sameData(t.applyDecoded(img).data, out));
});

test('corrupt or truncated images fail with an error naming the file', { skip: noPictures }, async () => {
  const t = imageTransform({ image_size: 32 });
  await assert.rejects(t(new Uint8Array([1, 2, 3, 4, 5]), { source: 'junk.bin' }), /cannot decode image junk\.bin/);
  await assert.rejects(t(new Uint8Array(0), { source: 'empty.jpg' }), /empty\.jpg: empty file|cannot decode image empty\.jpg/);
  await assert.rejects(t(photo.subarray(0, photo.length >> 1), { source: 'half.jpg' }), /cannot decode image half\.jpg/);
  await assert.rejects(t(shapes.subarray(0, shapes.length - 40), { source: 'cut.png' }), /cannot decode image cut\.png/);
  await assert.rejects(decodeImage(shapes.subarray(0, 20), 'header.png'), /header\.png/);
  const corrupt = Uint8Array.from(photo);
  corrupt.fill(0, 400, 2000);
  await assert.rejects(t(corrupt, { source: 'zeros.jpg' }), /zeros\.jpg/);
});

test('EXIF orientation is not applied, as PIL Image.open does not', async () => {
  const sharp = (await import('sharp')).default;
  const px = new Uint8Array(40 * 30 * 3);
  for (let i = 0; i < px.length; i += 3) px[i] = (i / 3) % 40 < 20 ? 255 : 0;
  const rotated = await sharp(px, { raw: { width: 40, height: 30, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
  assert.equal((await sharp(rotated).metadata()).orientation, 6);
  const img = await decodeImage(rotated, 'rotated.jpg');
  assert.deepEqual([img.width, img.height], [40, 30]);
  // Left half red, right half black: unrotated.
  assert.ok(img.data[0] > 200 && img.data[(39) * 3] < 50);
});
