// The native addon (@openclip/data-native) against this package's TypeScript code and sharp: the
// C++ resampler gives the TypeScript resampler's bytes, the normaliser its floats, libjpeg-turbo
// decoding gives sharp's pixels (and declines what it does not handle, leaving it to sharp), and
// whole eval / train transforms are identical with kernels 'native' and 'js'.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { Rng } from '@openclip/engine/rng';
import sharp, { type JpegOptions } from 'sharp';
import { decodeImage, decodeJpegNative } from '../../src/image/decode.js';
import { imageTransform } from '../../src/image/image-transform.js';
import { checkImageKernels, nativeImageStatus } from '../../src/image/native.js';
import { resampleCoeffs, resampleU8, type Region } from '../../src/image/resample.js';
import { rgbToTensor } from '../../src/image/to-tensor.js';

const status = nativeImageStatus();
const noAddon = status.addon ? false : `addon unavailable: ${status.detail}`;
const noJpeg = status.jpeg ? false : `addon JPEG decoding unavailable: ${status.detail}`;

function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): string {
  if (a.length !== b.length) return `lengths ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return `index ${i}: ${a[i]} vs ${b[i]}`;
  return '';
}

/** Smooth or noisy test pixels (smooth images exercise the clamping less, noise more). */
function pixels(rng: Rng, n: number, smooth: boolean): Uint8Array {
  const a = new Uint8Array(n);
  const f = rng.uniform(0.01, 0.3);
  for (let i = 0; i < n; i++) a[i] = smooth ? Math.round(127.5 + 127.5 * Math.sin(i * f)) : rng.randint(256);
  return a;
}

test('kernels choice is checked', () => {
  assert.throws(() => checkImageKernels('fast' as never, 'imageTransform'), /imageTransform: kernels must be 'auto', 'native' or 'js', got "fast"/);
  assert.throws(() => imageTransform({}, { kernels: 'gpu' as never }), /kernels must be/);
  if (!status.addon) assert.throws(() => imageTransform({}, { kernels: 'native' }), /needs the @openclip\/data-native addon/);
});

test('OPENCLIP_DATA_NATIVE=0 turns the addon off: auto runs TypeScript, native is an error naming the variable', async () => {
  const here = new URL('../../src/image/native.js', import.meta.url).href;
  const transform = new URL('../../src/image/image-transform.js', import.meta.url).href;
  const code = `const n = await import(${JSON.stringify(here)}); const t = await import(${JSON.stringify(transform)});
    let err = ''; try { t.imageTransform({}, { kernels: 'native' }); } catch (e) { err = e.message; }
    console.log(JSON.stringify({ addon: n.imageAddon('auto') !== null, detail: n.nativeImageStatus().detail, err }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', env: { ...process.env, OPENCLIP_DATA_NATIVE: '0' } });
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout) as { addon: boolean; detail: string; err: string };
  assert.equal(res.addon, false);
  assert.equal(res.detail, 'disabled by OPENCLIP_DATA_NATIVE=0');
  assert.match(res.err, /kernels 'native' needs the @openclip\/data-native addon, which is not available \(disabled by OPENCLIP_DATA_NATIVE=0\)/);
});

for (const simd of [true, false]) {
  test(`C++ resampler${simd ? '' : ' without SIMD'} = TypeScript resampler: 1-4 bands, random sizes, both filters, regions, one-axis resizes`, { skip: noAddon }, (t) => {
    const level = status.addon!.setSimd(simd);
    t.after(() => status.addon!.setSimd(true));
    if (simd && level === 'none') t.diagnostic('no SIMD code for this CPU: the portable code runs twice');
    const rng = new Rng(simd ? 11 : 12);
    let cases = 0;
    for (let i = 0; i < 600; i++) {
      const C = 1 + (i % 4);
      const w = 1 + rng.randint(i % 7 === 0 ? 300 : 70);
      const h = 1 + rng.randint(i % 11 === 0 ? 300 : 70);
      const src = pixels(rng, w * h * C, rng.random() < 0.5);
      const filter = rng.random() < 0.7 ? 'bicubic' : 'bilinear';
      // Downscales (the antialiased wide kernels), upscales and unchanged axes.
      const pick = (s: number) => { const u = rng.random(); return u < 0.15 ? s : u < 0.6 ? 1 + rng.randint(s) : 1 + rng.randint(3 * s + 5); };
      const ow = pick(w);
      const oh = pick(h);
      const regions: Region[] = [{ left: 0, top: 0, width: ow, height: oh }];
      const l = rng.randint(ow);
      const t = rng.randint(oh);
      regions.push({ left: l, top: t, width: 1 + rng.randint(ow - l), height: 1 + rng.randint(oh - t) });
      // Regions touching the last column and row (the SIMD path's guarded reads at the end of the image).
      regions.push({ left: ow - 1, top: oh - 1, width: 1, height: 1 }, { left: 0, top: oh - 2 >= 0 ? oh - 2 : 0, width: ow, height: oh >= 2 ? 2 : 1 });
      for (const r of regions) {
        const js = resampleU8(src, w, h, C, ow, oh, filter, r, 'js');
        const nat = resampleU8(src, w, h, C, ow, oh, filter, r, 'native');
        assert.equal(firstDiff(nat, js), '', `${w}x${h}x${C} -> ${ow}x${oh} ${filter} region ${JSON.stringify(r)}`);
        cases++;
      }
    }
    // The benchmark's and OpenCLIP's common case: 256x256 and 500x375 RGB to 224 with the centre crop.
    for (const [w, h, ow, oh, r] of [[256, 256, 224, 224, { left: 0, top: 0, width: 224, height: 224 }], [500, 375, 298, 224, { left: 37, top: 0, width: 224, height: 224 }]] as const) {
      const src = pixels(rng, w * h * 3, false);
      assert.equal(firstDiff(resampleU8(src, w, h, 3, ow, oh, 'bicubic', r, 'native'), resampleU8(src, w, h, 3, ow, oh, 'bicubic', r, 'js')), '');
      cases++;
    }
    assert.ok(cases > 2400);
  });
}

test('C++ resampler rejects inconsistent arguments with a message', { skip: noAddon }, () => {
  const addon = status.addon!;
  const c = resampleCoeffs(10, 5, 'bicubic');
  const src = new Uint8Array(10 * 4 * 3);
  assert.throws(() => addon.resample8(src, 10, 5, 3, 5, 4, 0, 0, 5, 4, c.bounds, c.fixed, c.ksize, null, null, 0, new Uint8Array(60)), /src length is not w\*h\*C/);
  assert.throws(() => addon.resample8(src, 10, 4, 3, 5, 4, 0, 0, 6, 4, c.bounds, c.fixed, c.ksize, null, null, 0, new Uint8Array(72)), /region outside the output/);
  assert.throws(() => addon.resample8(src, 10, 4, 3, 5, 4, 0, 0, 5, 4, null, null, 0, null, null, 0, new Uint8Array(60)), /horizontal coefficients missing/);
  assert.throws(() => addon.resample8(src, 10, 4, 3, 5, 4, 0, 0, 5, 4, c.bounds, c.fixed, c.ksize, null, null, 0, new Uint8Array(59)), /dst length/);
  assert.throws(() => resampleU8(src, 10, 5, 3, 5, 5, 'bicubic'), /expected 150 bytes for 10x5x3, got 120/);
});

test('C++ normalisation = TypeScript ToTensor/Normalize floats', { skip: noAddon }, () => {
  const rng = new Rng(5);
  for (const [mean, std] of [[[0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]], [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]], [[0, 0, 0], [1, 1, 1]]]) {
    for (const [w, h] of [[1, 1], [7, 3], [224, 224]]) {
      const rgb = pixels(rng, w * h * 3, false);
      const js = rgbToTensor(rgb, w, h, mean, std, undefined, 'js').data;
      const out = new Float32Array(3 * w * h).fill(NaN);
      const nat = rgbToTensor(rgb, w, h, mean, std, out, 'native');
      assert.equal(nat.data, out, 'writes into the given array');
      assert.equal(firstDiff(nat.data, js), '', `${w}x${h} mean ${mean}`);
    }
  }
});

/** JPEGs of the kinds datasets hold, made with sharp (libjpeg-turbo / mozjpeg encoders). */
async function jpegs(): Promise<{ name: string; bytes: Uint8Array }[]> {
  const rng = new Rng(3);
  const out: { name: string; bytes: Uint8Array }[] = [];
  const kinds: { name: string; opts: JpegOptions; grey?: boolean }[] = [
    { name: '4:2:0 q90', opts: { quality: 90 } },
    { name: '4:4:4 q95', opts: { quality: 95, chromaSubsampling: '4:4:4' } },
    { name: 'progressive', opts: { quality: 80, progressive: true } },
    { name: 'mozjpeg (progressive, trellis)', opts: { quality: 75, mozjpeg: true } },
    { name: 'optimised huffman, restart-free q50', opts: { quality: 50, optimiseCoding: true } },
    { name: 'greyscale', opts: { quality: 85 }, grey: true },
  ];
  for (const [w, h] of [[1, 1], [17, 9], [256, 256], [333, 7], [8, 301], [500, 375]]) {
    for (const k of kinds) {
      const smooth = rng.random() < 0.5;
      const raw = pixels(rng, w * h * 3, smooth);
      let s = sharp(raw, { raw: { width: w, height: h, channels: 3 } });
      if (k.grey) s = s.toColourspace('b-w');
      const buf = await s.jpeg(k.opts).toBuffer();
      out.push({ name: `${w}x${h} ${k.name}`, bytes: new Uint8Array(buf.buffer, buf.byteOffset, buf.length) });
    }
  }
  return out;
}

test('libjpeg-turbo decoding in the addon = sharp decoding (modes, sizes, subsampling, progressive)', { skip: noJpeg }, async () => {
  const files = await jpegs();
  for (const f of files) {
    const nat = decodeJpegNative(f.bytes, 'native');
    assert.ok(nat, `${f.name}: the addon declined a plain JPEG`);
    const viaSharp = await decodeImage(f.bytes, f.name, 'js');
    assert.equal(nat.mode, viaSharp.mode, f.name);
    assert.deepEqual([nat.width, nat.height, nat.channels], [viaSharp.width, viaSharp.height, viaSharp.channels], f.name);
    assert.equal(firstDiff(nat.data, viaSharp.data), '', `${f.name}: pixels differ from sharp`);
    // decodeImage goes through the addon by default and gives the same image.
    const auto = await decodeImage(f.bytes, f.name);
    assert.equal(firstDiff(auto.data, viaSharp.data), '', f.name);
  }
  assert.ok(files.some((f) => f.name.includes('greyscale')) && files.length === 36);
});

test('the addon declines CMYK, truncated and corrupt JPEGs; decodeImage then behaves as with sharp alone', { skip: noJpeg }, async () => {
  const raw = pixels(new Rng(1), 40 * 30 * 3, true);
  const good = await sharp(raw, { raw: { width: 40, height: 30, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
  const cmyk = await sharp(raw, { raw: { width: 40, height: 30, channels: 3 } }).toColourspace('cmyk').jpeg({ quality: 90 }).toBuffer();
  assert.equal(decodeJpegNative(cmyk, 'native'), null, 'CMYK is left to sharp');
  const viaSharp = await decodeImage(cmyk, 'cmyk.jpg', 'js');
  const auto = await decodeImage(cmyk, 'cmyk.jpg');
  assert.equal(auto.mode, viaSharp.mode);
  assert.equal(firstDiff(auto.data, viaSharp.data), '');
  const truncated = good.subarray(0, Math.floor(good.length * 0.6));
  assert.equal(decodeJpegNative(truncated, 'native'), null, 'truncated data is a libjpeg warning: declined');
  await assert.rejects(decodeImage(truncated, 'cut.jpg'), /cannot decode image cut\.jpg/);
  await assert.rejects(decodeImage(truncated, 'cut.jpg', 'js'), /cannot decode image cut\.jpg/);
  const garbage = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
  assert.equal(decodeJpegNative(garbage, 'native'), null);
  await assert.rejects(decodeImage(garbage, 'bad.jpg'), /cannot decode image bad\.jpg/);
  // Not a JPEG at all: null without touching the decoder.
  assert.equal(decodeJpegNative(new Uint8Array([0x89, 0x50, 0x4e, 0x47]), 'native'), null);
  // A caller's buffer is used when given.
  const buf = new Uint8Array(40 * 30 * 3);
  const img = decodeJpegNative(good, 'native', (n) => buf.subarray(0, n));
  assert.ok(img && img.data.buffer === buf.buffer);
});

test('eval and train transforms give identical floats with kernels native and js', { skip: noAddon }, async () => {
  const files = await jpegs();
  const configs = [{ image_size: 224 }, { image_size: 64, interpolation: 'bilinear' }, { image_size: [48, 80], resize_mode: 'longest', fill_color: 9 }, { image_size: 50, resize_mode: 'squash' }];
  for (const cfg of configs) {
    const nat = imageTransform(cfg, { kernels: 'native' });
    const js = imageTransform(cfg, { kernels: 'js' });
    for (const f of files) {
      const a = await nat(f.bytes, { source: f.name });
      const b = await js(f.bytes, { source: f.name });
      assert.equal(firstDiff(a.data, b.data), '', `${f.name} ${JSON.stringify(cfg)}`);
    }
  }
  const aug = { scale: [0.3, 1], color_jitter: [0.4, 0.4, 0.4, 0.1], color_jitter_prob: 0.8, gray_scale_prob: 0.2 };
  const nat = imageTransform({ image_size: 96 }, { isTrain: true, aug, kernels: 'native' });
  const js = imageTransform({ image_size: 96 }, { isTrain: true, aug, kernels: 'js' });
  for (const [i, f] of files.entries()) {
    const a = await nat(f.bytes, { rng: new Rng(i) });
    const b = await js(f.bytes, { rng: new Rng(i) });
    assert.equal(firstDiff(a.data, b.data), '', `train ${f.name}`);
  }
  // Back-to-back calls reuse the transform's decode buffer: earlier outputs stay intact.
  const first = await nat(files[12].bytes, { rng: new Rng(1) });
  const copy = first.data.slice();
  await nat(files[30].bytes, { rng: new Rng(2) });
  assert.equal(firstDiff(first.data, copy), '');
  // Concurrent calls (the pipeline keeps several samples in flight) equal one-at-a-time calls.
  const evalNat = imageTransform({ image_size: 224 }, { kernels: 'native' });
  const together = await Promise.all(files.map((f) => evalNat(f.bytes)));
  for (const [i, f] of files.entries()) assert.equal(firstDiff(together[i].data, (await evalNat(f.bytes)).data), '', f.name);
});
