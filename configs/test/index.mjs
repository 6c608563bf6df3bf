// Test helpers shared by every workspace: where the reference fixtures live.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** The repository root: the nearest folder above `from` whose package.json has workspaces. */
export function repoRoot(from = process.cwd()) {
  let dir = resolve(from);
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && JSON.parse(readFileSync(file, 'utf8')).workspaces) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no workspace root above ${from}`);
    dir = up;
  }
}

/** OpenCLIP reference fixtures: $OPENCLIP_REFERENCE_DIR, else ../shared/fixtures/reference beside the repo. */
export function referenceDir() {
  const dir = process.env.OPENCLIP_REFERENCE_DIR ?? join(repoRoot(), '..', 'shared', 'fixtures', 'reference');
  if (!existsSync(join(dir, 'manifest.json'))) {
    throw new Error(`reference fixtures not found at ${dir} (set OPENCLIP_REFERENCE_DIR)`);
  }
  return dir;
}

/** The parsed manifest.json of the reference fixtures. */
export function referenceManifest() {
  return JSON.parse(readFileSync(join(referenceDir(), 'manifest.json'), 'utf8'));
}
