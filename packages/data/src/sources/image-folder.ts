/**
 * torchvision's `ImageFolder` layout used by OpenCLIP's zero-shot ImageNet evaluation: `root/<class>/.../*.jpg`,
 * classes are the sorted sub-folder names (label = index), files sorted within each class.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** torchvision's `IMG_EXTENSIONS` (matched case-insensitively). */
export const IMAGE_FOLDER_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp'];

export interface ImageFolderIndex {
  root: string;
  classes: string[];
  paths: string[];
  labels: number[];
}

function walk(dir: string, out: string[]): void {
  const names = readdirSync(dir).sort();
  const files: string[] = [];
  const dirs: string[] = [];
  for (const n of names) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) dirs.push(p);
    else files.push(p);
  }
  for (const f of files) {
    const lower = f.toLowerCase();
    if (IMAGE_FOLDER_EXTENSIONS.some((e) => lower.endsWith(e))) out.push(f);
  }
  for (const d of dirs) walk(d, out);
}

export interface ScanImageFolderOptions {
  /**
   * 'sorted' (torchvision's ImageFolder, OpenCLIP's --imagenet-val): label = index of the folder
   * name in sorted order. 'numeric' (ImageNet-V2, OpenCLIP's --imagenet-v2): every class folder is
   * named by its integer label, label = int(name), so folder `10` is class 10, not the third
   * name in string order.
   */
  labels?: 'sorted' | 'numeric';
}

/** Indexes an image folder; throws (naming the folder) when it has no class folders or a class has no images. */
export function scanImageFolder(root: string, options: ScanImageFolderOptions = {}): ImageFolderIndex {
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch (e) {
    throw new Error(`cannot read image folder ${root}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const folders = entries.filter((n) => statSync(join(root, n)).isDirectory()).sort();
  if (folders.length === 0) throw new Error(`Couldn't find any class folder in ${root}.`);
  let classes = folders;
  let labelOf = (_: string, i: number) => i;
  if (options.labels === 'numeric') {
    const bad = folders.filter((n) => !/^(0|[1-9]\d*)$/.test(n));
    if (bad.length) throw new Error(`${root}: ImageNet-V2 class folders are named by their label (0, 1, ...); '${bad[0]}' is not${bad.length > 1 ? ` (and ${bad.length - 1} more)` : ''}`);
    const max = Math.max(...folders.map(Number));
    classes = Array.from({ length: max + 1 }, (_, i) => String(i));
    labelOf = (name) => Number(name);
  }
  const paths: string[] = [];
  const labels: number[] = [];
  const empty: string[] = [];
  folders.forEach((c, i) => {
    const label = labelOf(c, i);
    const files: string[] = [];
    walk(join(root, c), files);
    if (files.length === 0) empty.push(c);
    for (const f of files) {
      paths.push(f);
      labels.push(label);
    }
  });
  if (empty.length) {
    throw new Error(`Found no valid file for the classes ${empty.join(', ')} in ${root}. Supported extensions are: ${IMAGE_FOLDER_EXTENSIONS.join(', ')}`);
  }
  return { root, classes, paths, labels };
}
