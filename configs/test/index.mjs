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

/** The reference fixtures folder when it holds a manifest, else null (for tests that skip without it). */
export function referenceDirOrNull() {
  const dir = process.env.OPENCLIP_REFERENCE_DIR ?? join(repoRoot(), '..', 'shared', 'fixtures', 'reference');
  return existsSync(join(dir, 'manifest.json')) ? dir : null;
}

/** The manifest case with this id, or undefined (no fixtures, or a fixture set without it). */
export function referenceCase(id) {
  if (!referenceDirOrNull()) return undefined;
  return referenceManifest().cases.find((c) => c.id === id);
}

/**
 * A skip reason for node:test (`test(name, { skip: fixtureSkip(...) }, fn)`), or false when the
 * reference fixtures hold the case `caseId` (null: any fixture set) and every file in `files`
 * (paths relative to the fixtures folder).
 */
export function fixtureSkip(caseId, files = []) {
  const dir = referenceDirOrNull();
  if (!dir) return `reference fixtures not found (no manifest.json; set OPENCLIP_REFERENCE_DIR)`;
  if (caseId !== null && !referenceCase(caseId)) return `reference fixtures at ${dir} have no case '${caseId}'`;
  for (const f of files) if (!existsSync(join(dir, f))) return `reference fixture ${f} not found in ${dir}`;
  return false;
}
