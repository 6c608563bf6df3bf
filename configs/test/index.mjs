// Test helpers shared by every workspace: where the reference fixtures live.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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

/**
 * The PyTorch pickles of the reference fixtures, found by the layout's names (checkpoints/README.md):
 * `<model>.open_clip_pytorch_model.bin` (float32 state dict), `<model>.fp16.bin` (float16) and
 * `<model>.epoch_<K>.pt` (a trainer checkpoint), each kept only with its twin `models/<model>.safetensors`;
 * the first of each kind in name order. `skip(kind)` is a node:test skip reason when one is absent.
 */
export function referenceCheckpoints() {
  const dir = referenceDirOrNull();
  const found = {};
  if (dir && existsSync(join(dir, 'checkpoints'))) {
    for (const name of readdirSync(join(dir, 'checkpoints')).sort()) {
      const m = /^(.+?)\.(?:(open_clip_pytorch_model)\.bin|(fp16)\.bin|epoch_(\d+)\.pt)$/.exec(name);
      if (!m) continue;
      const twin = join(dir, 'models', `${m[1]}.safetensors`);
      if (!existsSync(twin)) continue;
      const f = { path: join(dir, 'checkpoints', name), twin, model: m[1] };
      if (m[2]) found.bin ??= f;
      else if (m[3]) found.fp16 ??= f;
      else found.epoch ??= { ...f, epoch: Number(m[4]) };
    }
  }
  const patterns = { bin: '<model>.open_clip_pytorch_model.bin', fp16: '<model>.fp16.bin', epoch: '<model>.epoch_<K>.pt' };
  return {
    dir,
    ...found,
    skip(kind) {
      if (found[kind]) return false;
      return dir
        ? `no checkpoints/${patterns[kind]} with its models/<model>.safetensors twin in the reference fixtures at ${dir}`
        : 'reference fixtures not found (no manifest.json; set OPENCLIP_REFERENCE_DIR)';
    },
  };
}
