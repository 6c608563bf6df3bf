// Randomised cross-check against the local Pillow (when python3 with PIL and numpy is
// installed; the fixtures were made with Pillow 9.4): PNGs of every mode PIL distinguishes
// (RGB, RGBA, L, LA, P, 1, 16-bit grey, RGB/P with tRNS), random sizes and targets, bicubic /
// bilinear / nearest resize, crops, and the colour-jitter operations; JPEGs of every chroma
// subsampling Pillow writes. Resizes run with both kernels (TypeScript and @openclip/data-native).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { adjustBrightness, adjustContrast, adjustHue, adjustSaturation, toGrayscale } from '../../src/image/color-jitter.js';
import { decodeImage } from '../../src/image/decode.js';
import { nativeImageStatus, type ImageKernels } from '../../src/image/native.js';
import { convertToRgb } from '../../src/image/pil-image.js';
import { cropImage, resizeImage } from '../../src/image/resize.js';

const PY = `
import json, sys, os
import numpy as np
from PIL import Image, ImageEnhance
out_dir = sys.argv[1]
rs = np.random.RandomState(int(sys.argv[2]))
cases = []
blob = bytearray()
modes = ['RGB', 'RGBA', 'L', 'LA', 'P', '1', 'I;16', 'RGBt', 'Pt']
filters = {'bicubic': Image.BICUBIC, 'bilinear': Image.BILINEAR, 'nearest': Image.NEAREST}
for i in range(int(sys.argv[3])):
    mode = modes[i % len(modes)]
    w, h = int(rs.randint(1, 90)), int(rs.randint(1, 90))
    smooth = rs.rand() < 0.5
    def chan(n):
        if smooth:
            y, x = np.mgrid[0:h, 0:w]
            return np.stack([((np.sin(x * rs.rand() + y * rs.rand() + rs.rand() * 6) + 1) * 127.5) for _ in range(n)], -1)
        return rs.randint(0, 256, (h, w, n))
    if mode in ('RGB', 'RGBt'):
        im = Image.fromarray(chan(3).astype(np.uint8), 'RGB')
        if mode == 'RGBt':
            im.info['transparency'] = tuple(int(v) for v in np.array(im)[0, 0])
    elif mode == 'RGBA':
        a = chan(4)
        a[..., 3] = np.where(rs.rand(h, w) < 0.3, rs.choice([0, 255], (h, w)), a[..., 3])
        im = Image.fromarray(a.astype(np.uint8), 'RGBA')
    elif mode == 'L':
        im = Image.fromarray(chan(1)[..., 0].astype(np.uint8), 'L')
    elif mode == 'LA':
        im = Image.fromarray(chan(2).astype(np.uint8), 'LA')
    elif mode in ('P', 'Pt'):
        im = Image.fromarray(rs.randint(0, 16, (h, w)).astype(np.uint8), 'P')
        im.putpalette(list(rs.randint(0, 256, 48)))
        if mode == 'Pt':
            im.info['transparency'] = 3
    elif mode == '1':
        im = Image.fromarray((rs.rand(h, w) < 0.5).astype(np.uint8) * 255, 'L').convert('1')
    else:
        im = Image.fromarray(rs.choice([0, 1, 100, 200, 255, 256, 4000, 65535], (h, w)).astype(np.uint16), 'I;16')
    path = os.path.join(out_dir, 'img%d.png' % i)
    im.save(path, transparency=im.info['transparency']) if 'transparency' in im.info else im.save(path)
    src = Image.open(path)
    fname = list(filters)[int(rs.randint(0, 3))]
    ow, oh = int(rs.randint(1, 120)), int(rs.randint(1, 120))
    if rs.rand() < 0.15:
        ow = w
    resized = src.resize((ow, oh), filters[fname]).convert('RGB')
    cl, ct = int(rs.randint(-3, w)), int(rs.randint(-3, h))
    cw, ch = int(rs.randint(1, w + 4)), int(rs.randint(1, h + 4))
    cropped = src.crop((cl, ct, cl + cw, ct + ch)).convert('RGB')
    rgb = src.convert('RGB')
    jit = {}
    for op, cls in (('brightness', ImageEnhance.Brightness), ('contrast', ImageEnhance.Contrast), ('saturation', ImageEnhance.Color)):
        f = float(rs.uniform(0, 2.2))
        jit[op] = [f, len(blob)]
        blob += cls(rgb).enhance(f).tobytes()
    hf = float(rs.uniform(-0.5, 0.5))
    hh, ss, vv = rgb.convert('HSV').split()
    nh = np.array(hh, dtype=np.uint8)
    with np.errstate(over='ignore'):
        nh += np.uint8(int(hf * 255) % 256)
    jit['hue'] = [hf, len(blob)]
    blob += Image.merge('HSV', (Image.fromarray(nh, 'L'), ss, vv)).convert('RGB').tobytes()
    jit['gray'] = [0, len(blob)]
    blob += rgb.convert('L').convert('RGB').tobytes()
    cases.append(dict(file=path, mode=src.mode, w=w, h=h, filter=fname, ow=ow, oh=oh, resized=len(blob),
                      crop=[cl, ct, cw, ch], jitter=jit))
    blob += resized.tobytes()
    cases[-1]['cropped'] = len(blob)
    blob += cropped.tobytes()
open(os.path.join(out_dir, 'expected.bin'), 'wb').write(blob)
json.dump(cases, open(os.path.join(out_dir, 'cases.json'), 'w'))
`;

function findPython(): string | null {
  for (const exe of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(exe, ['-c', 'import PIL, numpy'], { encoding: 'utf8' });
    if (r.status === 0) return exe;
  }
  return null;
}

const python = findPython();
const nativeStatus = nativeImageStatus();
// Both implementations: TypeScript + sharp, and @openclip/data-native when it is built.
const KERNELS: ImageKernels[] = nativeStatus.addon ? ['js', 'native'] : ['js'];
const work = mkdtempSync(join(tmpdir(), 'openclip-pil-'));
after(() => rmSync(work, { recursive: true, force: true }));

interface Case {
  file: string; mode: string; w: number; h: number; filter: 'bicubic' | 'bilinear' | 'nearest';
  ow: number; oh: number; resized: number; cropped: number; crop: [number, number, number, number];
  jitter: Record<'brightness' | 'contrast' | 'saturation' | 'hue' | 'gray', [number, number]>;
}

function firstDiff(a: Uint8Array, b: Uint8Array): string {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `byte ${i}: ${a[i]} vs PIL ${b[i]}`;
  return 'equal';
}

test('PNG decode + resize + crop + colour jitter match the local Pillow on random cases (OPENCLIP_PIL_CASES, default 180)', { skip: python ? false : 'python3 with PIL and numpy not available' }, async () => {
  const r = spawnSync(python as string, ['-c', PY, work, process.env.OPENCLIP_PIL_SEED ?? '1234', process.env.OPENCLIP_PIL_CASES ?? '180'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `python failed: ${r.stderr}`);
  const cases = JSON.parse(readFileSync(join(work, 'cases.json'), 'utf8')) as Case[];
  const blob = new Uint8Array(readFileSync(join(work, 'expected.bin')));
  const modes = new Set<string>();
  for (const c of cases) {
    for (const kernels of KERNELS) {
      const label = `[${kernels}] ${c.file} (${c.mode} ${c.w}x${c.h} -> ${c.ow}x${c.oh} ${c.filter})`;
      const img = await decodeImage(readFileSync(c.file), c.file, kernels);
      modes.add(c.mode);
      assert.equal(img.mode, c.mode, label);
      const want = blob.subarray(c.resized, c.resized + c.ow * c.oh * 3);
      const got = convertToRgb(resizeImage(img, c.ow, c.oh, c.filter, kernels));
      assert.equal(got.length, want.length, label);
      assert.ok(Buffer.from(got).equals(Buffer.from(want)), `${label}: resize differs, ${firstDiff(got, want)}`);
      const [l, t, w, h] = c.crop;
      const wantCrop = blob.subarray(c.cropped, c.cropped + w * h * 3);
      const gotCrop = convertToRgb(cropImage(img, { left: l, top: t, width: w, height: h }));
      assert.ok(Buffer.from(gotCrop).equals(Buffer.from(wantCrop)), `${label}: crop ${c.crop} differs, ${firstDiff(gotCrop, wantCrop)}`);
      const rgb = convertToRgb(img);
      const n = c.w * c.h * 3;
      const ops = {
        brightness: adjustBrightness, contrast: adjustContrast, saturation: adjustSaturation, hue: adjustHue,
        gray: (x: Uint8Array) => toGrayscale(x),
      } as const;
      for (const [op, fn] of Object.entries(ops)) {
        const [factor, at] = c.jitter[op as keyof typeof ops];
        const x = rgb.slice();
        fn(x, factor);
        const wantJ = blob.subarray(at, at + n);
        assert.ok(Buffer.from(x).equals(Buffer.from(wantJ)), `${label}: ${op}(${factor}) differs, ${firstDiff(x, wantJ)}`);
      }
    }
  }
  assert.deepEqual([...modes].sort(), ['1', 'I', 'L', 'LA', 'P', 'RGB', 'RGBA'], 'every PIL mode was exercised');
});

test('16-bit RGB and RGBA PNGs keep the high byte, as PIL', { skip: python ? false : 'python3 with PIL and numpy not available' }, async () => {
  // Build 16-bit PNGs with sharp-independent bytes via python, compare with PIL's decode.
  const script = `
import sys, zlib, struct, numpy as np
from PIL import Image
def png(fn, w, h, ct, raw):
    def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    open(fn, 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 16, ct, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
rs = np.random.RandomState(5)
for name, ct, n in (('rgb16', 2, 3), ('rgba16', 6, 4), ('la16', 4, 2)):
    a = rs.randint(0, 65536, (9, 11, n)).astype('>u2')
    fn = sys.argv[1] + '/' + name + '.png'
    png(fn, 11, 9, ct, b''.join(b'\\0' + a[y].tobytes() for y in range(9)))
    im = Image.open(fn)
    open(fn + '.rgb', 'wb').write(im.resize((7, 5), Image.BICUBIC).convert('RGB').tobytes())
`;
  const r = spawnSync(python as string, ['-c', script, work], { encoding: 'utf8' });
  assert.equal(r.status, 0, `python failed: ${r.stderr}`);
  for (const name of ['rgb16', 'rgba16', 'la16']) {
    const file = join(work, `${name}.png`);
    const img = await decodeImage(readFileSync(file), file);
    const got = convertToRgb(resizeImage(img, 7, 5, 'bicubic'));
    const want = new Uint8Array(readFileSync(`${file}.rgb`));
    assert.ok(Buffer.from(got).equals(Buffer.from(want)), `${name}: ${firstDiff(got, want)}`);
  }
});

test('WebP (lossy, lossless, alpha), GIF and greyscale JPEG decode and resize as PIL', { skip: python ? false : 'python3 with PIL and numpy not available' }, async () => {
  const script = `
import sys, json, numpy as np
from PIL import Image, features
d = sys.argv[1]
y, x = np.mgrid[0:61, 0:83]
a = np.stack([(np.sin(x * 0.1 + c) + np.cos(y * 0.07 * c)) * 60 + 128 for c in range(4)], -1).clip(0, 255).astype(np.uint8)
a[::7, ::5, 3] = 0
made = []
if features.check('webp'):
    Image.fromarray(a[..., :3]).save(d + '/lossy.webp', quality=80); made.append('lossy.webp')
    Image.fromarray(a).save(d + '/alpha.webp', quality=80); made.append('alpha.webp')
    Image.fromarray(a[..., :3]).save(d + '/lossless.webp', lossless=True); made.append('lossless.webp')
Image.fromarray(a[..., :3]).quantize(64).save(d + '/pal.gif'); made.append('pal.gif')
Image.fromarray(a[..., 0]).save(d + '/grey.jpg', quality=85); made.append('grey.jpg')
out = []
for f in made:
    im = Image.open(d + '/' + f)
    open(d + '/' + f + '.rgb', 'wb').write(im.convert('RGB').tobytes())
    open(d + '/' + f + '.res', 'wb').write(im.resize((40, 29), Image.BICUBIC).convert('RGB').tobytes())
    out.append([f, im.mode])
print(json.dumps(out))
`;
  const r = spawnSync(python as string, ['-c', script, work], { encoding: 'utf8' });
  assert.equal(r.status, 0, `python failed: ${r.stderr}`);
  const made = JSON.parse(r.stdout) as [string, string][];
  assert.ok(made.length >= 2);
  for (const [name, mode] of made) {
    const file = join(work, name);
    const img = await decodeImage(readFileSync(file), file);
    assert.equal(img.mode, mode, name);
    const rgb = convertToRgb(img);
    const want = new Uint8Array(readFileSync(`${file}.rgb`));
    assert.ok(Buffer.from(rgb).equals(Buffer.from(want)), `${name} decode: ${firstDiff(rgb, want)}`);
    const res = convertToRgb(resizeImage(img, 40, 29, 'bicubic'));
    const wantRes = new Uint8Array(readFileSync(`${file}.res`));
    assert.ok(Buffer.from(res).equals(Buffer.from(wantRes)), `${name} resize: ${firstDiff(res, wantRes)}`);
  }
});

test('JPEGs saved by Pillow (4:4:4 / 4:2:2 / 4:2:0, progressive, greyscale, odd sizes) decode and resize as PIL, with both kernels', { skip: python ? false : 'python3 with PIL and numpy not available' }, async () => {
  const script = `
import sys, json, numpy as np
from PIL import Image
d = sys.argv[1]
rs = np.random.RandomState(int(sys.argv[2]))
out = []
for i in range(int(sys.argv[3])):
    w, h = int(rs.randint(1, 300)), int(rs.randint(1, 300))
    y, x = np.mgrid[0:h, 0:w]
    a = np.stack([(np.sin(x * rs.rand() * 0.3 + y * rs.rand() * 0.3 + c) * 100 + 128 + rs.randint(-20, 21, (h, w))) for c in range(3)], -1).clip(0, 255).astype(np.uint8)
    im = Image.fromarray(a if i % 6 else a[..., 0])
    f = '%s/j%d.jpg' % (d, i)
    im.save(f, quality=int(rs.randint(40, 98)), subsampling=int(i % 3), progressive=bool(i % 4 == 1))
    src = Image.open(f)
    ow, oh = int(rs.randint(1, 260)), int(rs.randint(1, 260))
    open(f + '.rgb', 'wb').write(src.convert('RGB').tobytes())
    open(f + '.res', 'wb').write(src.resize((ow, oh), Image.BICUBIC).convert('RGB').tobytes())
    out.append([f, src.mode, w, h, ow, oh])
print(json.dumps(out))
`;
  const r = spawnSync(python as string, ['-c', script, work, process.env.OPENCLIP_PIL_SEED ?? '77', process.env.OPENCLIP_PIL_JPEG_CASES ?? '48'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `python failed: ${r.stderr}`);
  const made = JSON.parse(r.stdout) as [string, string, number, number, number, number][];
  for (const [file, mode, w, h, ow, oh] of made) {
    for (const kernels of KERNELS) {
      const label = `[${kernels}] ${file} (${mode} ${w}x${h} -> ${ow}x${oh})`;
      const img = await decodeImage(readFileSync(file), file, kernels);
      assert.equal(img.mode, mode, label);
      const rgb = convertToRgb(img);
      const want = new Uint8Array(readFileSync(`${file}.rgb`));
      assert.ok(Buffer.from(rgb).equals(Buffer.from(want)), `${label} decode: ${firstDiff(rgb, want)}`);
      const res = convertToRgb(resizeImage(img, ow, oh, 'bicubic', kernels));
      const wantRes = new Uint8Array(readFileSync(`${file}.res`));
      assert.ok(Buffer.from(res).equals(Buffer.from(wantRes)), `${label} resize: ${firstDiff(res, wantRes)}`);
    }
  }
  assert.ok(made.some((m) => m[1] === 'L') && made.some((m) => m[1] === 'RGB'));
});
