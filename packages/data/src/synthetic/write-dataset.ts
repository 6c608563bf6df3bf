/**
 * Writes the synthetic shapes set in the layouts OpenCLIP reads: a CSV (tab-separated `filepath`,
 * `title`, `label`) beside an `images/` folder; webdataset shards named `00000.tar`, `00001.tar`, ... as
 * img2dataset does (members `<key>.jpg|png`, `.txt`, `.json`, `.cls`) plus `sizes.json`; or an
 * image-folder tree (`<class_name>/<index>.jpg`) for zero-shot evaluation.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import tar from 'tar-stream';
import { encodeSynthetic, SYNTHETIC_CLASSNAMES, type SyntheticImageFormat } from './shapes.js';

export type SyntheticLayout = 'csv' | 'webdataset' | 'imagefolder';

export interface WriteSyntheticOptions {
  type: SyntheticLayout;
  out: string;
  numSamples: number;
  /** Samples per tar shard (webdataset; default 1000). */
  shardSize?: number;
  imageSize?: number;
  seed?: number;
  format?: SyntheticImageFormat;
  /** CSV file name inside `out` (default `train.csv`). */
  csvName?: string;
  onProgress?: (done: number, total: number) => void;
}

export interface WriteSyntheticResult {
  type: SyntheticLayout;
  out: string;
  numSamples: number;
  imageSize: number;
  seed: number;
  format: SyntheticImageFormat;
  /** What to pass as --train-data (CSV path, shard spec, or folder). */
  trainData: string;
  files: string[];
  shards?: number;
  classes: readonly string[];
}

/** Folder name of a class in the image-folder layout ("red circle" -> "red_circle"); sorts like the class list. */
export function classFolderName(className: string): string {
  return className.replace(/ /g, '_');
}

function check(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer >= ${min}, got ${v}`);
}

function csvField(s: string): string {
  return /[\t"\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

async function writeTar(path: string, members: { name: string; data: Uint8Array | string }[]): Promise<void> {
  const pack = tar.pack();
  const file = createWriteStream(path);
  pack.pipe(file as unknown as NodeJS.WritableStream);
  for (const m of members) {
    await new Promise<void>((resolve, reject) => pack.entry({ name: m.name, mtime: new Date(0) }, m.data as Uint8Array, (e) => (e ? reject(e) : resolve())));
  }
  pack.finalize();
  await once(file, 'close');
}

export async function writeSyntheticDataset(o: WriteSyntheticOptions): Promise<WriteSyntheticResult> {
  const imageSize = o.imageSize ?? 224;
  const seed = o.seed ?? 0;
  const format = o.format ?? 'jpg';
  const shardSize = o.shardSize ?? 1000;
  check('--num-samples', o.numSamples, 1);
  check('--image-size', imageSize, 8);
  check('--shard-size', shardSize, 1);
  check('--seed', seed, 0);
  if (format !== 'jpg' && format !== 'png') throw new Error(`--format must be jpg or png, got '${format}'`);
  if (o.type === 'imagefolder' && o.numSamples < SYNTHETIC_CLASSNAMES.length) {
    throw new Error(`--type imagefolder needs --num-samples >= ${SYNTHETIC_CLASSNAMES.length} so every class folder has an image`);
  }
  await mkdir(o.out, { recursive: true });
  const files: string[] = [];
  const result = (trainData: string, extra: Partial<WriteSyntheticResult> = {}): WriteSyntheticResult => ({
    type: o.type, out: o.out, numSamples: o.numSamples, imageSize, seed, format, trainData, files, classes: SYNTHETIC_CLASSNAMES, ...extra,
  });

  if (o.type === 'csv') {
    await mkdir(join(o.out, 'images'), { recursive: true });
    const lines = ['filepath\ttitle\tlabel'];
    for (let i = 0; i < o.numSamples; i++) {
      const s = await encodeSynthetic(seed, i, imageSize, format);
      const rel = `images/${String(i).padStart(6, '0')}.${format}`;
      await writeFile(join(o.out, rel), s.bytes);
      lines.push(`${csvField(rel)}\t${csvField(s.caption)}\t${s.label}`);
      o.onProgress?.(i + 1, o.numSamples);
    }
    const csv = join(o.out, o.csvName ?? 'train.csv');
    await writeFile(csv, lines.join('\n') + '\n');
    files.push(csv);
    return result(csv);
  }

  if (o.type === 'imagefolder') {
    for (const c of SYNTHETIC_CLASSNAMES) await mkdir(join(o.out, classFolderName(c)), { recursive: true });
    for (let i = 0; i < o.numSamples; i++) {
      const s = await encodeSynthetic(seed, i, imageSize, format);
      const p = join(o.out, classFolderName(s.className), `${String(i).padStart(6, '0')}.${format}`);
      await writeFile(p, s.bytes);
      o.onProgress?.(i + 1, o.numSamples);
    }
    const names = join(o.out, 'classnames.txt');
    await writeFile(names, SYNTHETIC_CLASSNAMES.join('\n') + '\n');
    files.push(names);
    return result(o.out);
  }

  const numShards = Math.ceil(o.numSamples / shardSize);
  const keyDigits = Math.max(4, String(shardSize - 1).length);
  const sizes: Record<string, number> = {};
  for (let shard = 0; shard < numShards; shard++) {
    const members: { name: string; data: Uint8Array | string }[] = [];
    const first = shard * shardSize;
    const last = Math.min(o.numSamples, first + shardSize);
    for (let i = first; i < last; i++) {
      const s = await encodeSynthetic(seed, i, imageSize, format);
      const key = String(shard).padStart(5, '0') + String(i - first).padStart(keyDigits, '0');
      members.push({ name: `${key}.${format}`, data: s.bytes });
      members.push({ name: `${key}.txt`, data: s.caption });
      members.push({ name: `${key}.json`, data: JSON.stringify({ key, caption: s.caption, label: s.label, class: s.className, width: imageSize, height: imageSize }) });
      members.push({ name: `${key}.cls`, data: String(s.label) });
      o.onProgress?.(i + 1, o.numSamples);
    }
    const name = `${String(shard).padStart(5, '0')}.tar`;
    await writeTar(join(o.out, name), members);
    sizes[name] = last - first;
    files.push(join(o.out, name));
  }
  const sizesFile = join(o.out, 'sizes.json');
  await writeFile(sizesFile, JSON.stringify(sizes, null, 1) + '\n');
  files.push(sizesFile);
  const last = String(numShards - 1).padStart(5, '0');
  const spec = numShards === 1 ? join(o.out, '00000.tar') : join(o.out, `{00000..${last}}.tar`);
  return result(spec, { shards: numShards });
}
