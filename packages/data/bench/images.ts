/**
 * Benchmark of OpenCLIP eval preprocessing at 224 (decode + Resize(bicubic) + CenterCrop +
 * ToTensor + Normalize) on one thread: openclip-ts with the native kernels (libjpeg-turbo decode +
 * the C++ Pillow resampler of @openclip/data-native, when built) and with the TypeScript kernels
 * (sharp decode + the TypeScript Pillow resampler), beside a Python Pillow loop on the same files,
 * rounds alternating; wall and CPU time per image, plus a uint8 parity check of every
 * implementation against PIL on every benchmark file. Writes bench-results/data-images.json.
 *
 *   npm run bench -w @openclip/data            (BENCH_ROUNDS=n to change the repetitions)
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { Rng } from '@openclip/engine/rng';
import { referenceDir, repoRoot } from '@openclip/test-config';
import { cpuSeconds, median, PythonLoop } from './python-loop.js';
import { decodeImage } from '../src/image/decode.js';
import { evalResizeCrop, imageTransform } from '../src/image/image-transform.js';
import { nativeImageStatus, type ImageKernels } from '../src/image/native.js';
import { convertToRgb } from '../src/image/pil-image.js';
import { parsePreprocessConfig } from '../src/image/preprocess-config.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);

/** Procedural 500x375 photos-like images (smooth gradients, edges and noise) as JPEG. */
async function makeJpegs(dir: string, count: number): Promise<string[]> {
  const rng = new Rng(2024);
  const w = 500;
  const h = 375;
  const files: string[] = [];
  for (let k = 0; k < count; k++) {
    const px = new Uint8Array(w * h * 3);
    const f = [rng.uniform(0.01, 0.05), rng.uniform(0.01, 0.05), rng.uniform(0.01, 0.05)];
    const cx = rng.uniform(0, w);
    const cy = rng.uniform(0, h);
    const rad = rng.uniform(50, 150);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const inside = (x - cx) ** 2 + (y - cy) ** 2 < rad * rad;
        for (let c = 0; c < 3; c++) {
          let v = 128 + 100 * Math.sin(f[c] * x + f[(c + 1) % 3] * y + c) + rng.normal(0, 12);
          if (inside) v = 255 - v * 0.5;
          px[(y * w + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
        }
      }
    }
    const file = join(dir, `photo${k}_500x375.jpg`);
    const chroma = k % 2 ? '4:4:4' : '4:2:0';
    writeFileSync(file, await sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 88, chromaSubsampling: chroma, mozjpeg: false }).toBuffer());
    files.push(file);
  }
  return files;
}

const PY = `
import json, sys, time
import numpy as np
from PIL import Image
files = json.loads(sys.argv[1]); dump = sys.argv[2]
size = 224
mean = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
std = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)
try:
    import torchvision  # noqa: F401
    tv = True
except Exception:
    tv = False
def crop_u8(path):
    im = Image.open(path)
    w, h = im.size
    nw, nh = (size, int(size * h / w)) if w <= h else (int(size * w / h), size)
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.BICUBIC)
    top, left = int(round((nh - size) / 2.0)), int(round((nw - size) / 2.0))
    return im.crop((left, top, left + size, top + size)).convert('RGB')
def transform(path):
    a = np.asarray(crop_u8(path), dtype=np.float32) / np.float32(255)
    return ((a - mean) / std).transpose(2, 0, 1)
with open(dump, 'wb') as f:
    for name, paths in files.items():
        for p in paths: f.write(crop_u8(p).tobytes())
for name, paths in files.items():
    for p in paths: transform(p)
print(json.dumps({'torchvision': tv}), flush=True)
for line in sys.stdin:
    paths = files[line.strip()]
    t0, c0 = time.perf_counter(), time.process_time()
    for p in paths: transform(p)
    print(json.dumps([time.perf_counter() - t0, time.process_time() - c0]), flush=True)
`;

interface Row {
  impl: string;
  set: string;
  images: number;
  rounds: number;
  images_per_s: number;
  ms_per_image: number;
  cpu_ms_per_image: number;
  decode_ms?: number;
  resize_crop_normalize_ms?: number;
  note?: string;
}

async function main(): Promise<void> {
  sharp.concurrency(1);
  const work = mkdtempSync(join(tmpdir(), 'openclip-bench-images-'));
  try {
    const ref = join(referenceDir(), 'images');
    const sets: Record<string, string[]> = {
      fixtures: readdirSync(ref).sort().map((f) => join(ref, f)),
      jpeg_500x375: await makeJpegs(work, 8),
    };
    const cfg = parsePreprocessConfig({ image_size: 224 });
    const status = nativeImageStatus();
    const impls: { impl: string; kernels: ImageKernels }[] = [
      ...(status.addon ? [{ impl: `openclip-ts native kernels (${status.jpeg ? 'libjpeg-turbo' : 'sharp'} decode + C++ Pillow resampler)`, kernels: 'native' as const }] : []),
      { impl: 'openclip-ts TypeScript kernels (sharp decode + TS Pillow resampler)', kernels: 'js' },
    ];
    const rows: Row[] = [];
    const parity: { impl: string; file: string; max_abs_u8: number; differing: number }[] = [];
    // The Python loop runs in a persistent process and its rounds alternate with ours, so both
    // see the same machine load (the machine is shared).
    const dump = join(work, 'pil.u8');
    const py = await PythonLoop.start(PY, [JSON.stringify(sets), dump]);
    const torchvision = py ? (py.ready as { torchvision: boolean }).torchvision : false;
    for (const [name, files] of Object.entries(sets)) {
      const bytes = files.map((f) => readFileSync(f));
      const runs = impls.map((x) => ({ ...x, transform: imageTransform(cfg, { kernels: x.kernels }), wall: [] as number[], cpu: [] as number[], dec: [] as number[], pre: [] as number[] }));
      for (const run of runs) for (const b of bytes) await run.transform(b);
      const pyWall: number[] = [];
      const pyCpu: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        for (const run of runs) {
          const c0 = process.cpuUsage();
          const t0 = performance.now();
          for (let i = 0; i < bytes.length; i++) await run.transform(bytes[i], { source: files[i] });
          run.wall.push(performance.now() - t0);
          run.cpu.push(cpuSeconds(c0) * 1000);
          // Split the two stages on a second pass.
          let d = 0;
          let p = 0;
          for (let i = 0; i < bytes.length; i++) {
            const a = performance.now();
            const img = await decodeImage(bytes[i], files[i], run.kernels);
            const b2 = performance.now();
            run.transform.applyDecoded(img);
            d += b2 - a;
            p += performance.now() - b2;
          }
          run.dec.push(d / bytes.length);
          run.pre.push(p / bytes.length);
        }
        if (py) {
          const [w, c] = JSON.parse(await py.round(name)) as [number, number];
          pyWall.push(w * 1000);
          pyCpu.push(c * 1000);
        }
      }
      for (const run of runs) {
        const t = median(run.wall);
        rows.push({
          impl: run.impl, set: name, images: files.length, rounds: ROUNDS,
          images_per_s: (1000 * files.length) / t, ms_per_image: t / files.length, cpu_ms_per_image: median(run.cpu) / files.length,
          decode_ms: median(run.dec), resize_crop_normalize_ms: median(run.pre),
        });
      }
      if (py) {
        const tp = median(pyWall);
        rows.push({
          impl: torchvision ? 'python PIL + torchvision' : 'python PIL resize/crop + numpy ToTensor/Normalize (torchvision not installed)',
          set: name, images: files.length, rounds: ROUNDS, images_per_s: (1000 * files.length) / tp, ms_per_image: tp / files.length,
          cpu_ms_per_image: median(pyCpu) / files.length,
        });
      }
    }
    if (py) {
      py.close();
      // The script wrote PIL's uint8 crops before its ready line.
      const pil = new Uint8Array(readFileSync(dump));
      for (const { impl, kernels } of impls) {
        let at = 0;
        for (const files of Object.values(sets)) {
          for (const f of files) {
            const ours = convertToRgb(evalResizeCrop(await decodeImage(readFileSync(f), f, kernels), cfg, kernels));
            let max = 0;
            let diff = 0;
            for (let i = 0; i < ours.length; i++) {
              const d = Math.abs(ours[i] - pil[at + i]);
              if (d) diff++;
              if (d > max) max = d;
            }
            at += ours.length;
            parity.push({ impl, file: f.split('/').pop() as string, max_abs_u8: max, differing: diff });
          }
        }
      }
    }
    const header = ['impl', 'set', 'images', 'images/s', 'ms/image', 'cpu ms/image', 'decode ms', 'resize+crop+norm ms'];
    const table = rows.map((r) => [
      r.impl, r.set, String(r.images), r.images_per_s.toFixed(0), r.ms_per_image.toFixed(2), r.cpu_ms_per_image.toFixed(2),
      r.decode_ms?.toFixed(2) ?? '', r.resize_crop_normalize_ms?.toFixed(2) ?? '',
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
    console.log(`eval preprocessing at 224, single thread (sharp.concurrency(1)), median of ${ROUNDS} alternating rounds, ${cpus().length} CPUs shared; addon: ${status.detail}`);
    console.log(line(header));
    for (const row of table) console.log(line(row));
    if (parity.length) {
      const worst = parity.reduce((a, b) => (b.max_abs_u8 > a.max_abs_u8 ? b : a));
      console.log(`uint8 parity with PIL on every benchmark file (${parity.length} file x implementation pairs): worst max |diff| = ${worst.max_abs_u8} (${worst.file}, ${worst.impl})`);
    }
    const outDir = join(repoRoot(), 'bench-results');
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'data-images.json'), `${JSON.stringify({
      benchmark: 'decode + OpenCLIP eval preprocess (bicubic shortest 224, center crop, normalize)',
      date: new Date().toISOString(), node: process.version, cpus: cpus().length, rows, parity,
    }, null, 2)}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
