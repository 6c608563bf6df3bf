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

/** Indexes an image folder; throws (naming the folder) when it has no class folders or a class has no images. */
export function scanImageFolder(root: string): ImageFolderIndex {
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch (e) {
    throw new Error(`cannot read image folder ${root}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const classes = entries.filter((n) => statSync(join(root, n)).isDirectory()).sort();
  if (classes.length === 0) throw new Error(`Couldn't find any class folder in ${root}.`);
  const paths: string[] = [];
  const labels: number[] = [];
  const empty: string[] = [];
  classes.forEach((c, label) => {
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
