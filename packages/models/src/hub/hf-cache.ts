/**
 * The Hugging Face Hub cache layout shared with Python's `huggingface_hub` (and so with
 * OpenCLIP): `<cache>/models--org--name/{blobs/<etag>, snapshots/<commit>/<file>, refs/<rev>,
 * .no_exist/<commit>/<file>}`, with the cache folder from `cacheDir`, `$HF_HUB_CACHE`,
 * `$HUGGINGFACE_HUB_CACHE`, `$HF_HOME/hub` or `$XDG_CACHE_HOME/huggingface/hub`
 * (default `~/.cache/huggingface/hub`). Lookups here never touch the network.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hfHubCacheDir as envHubCacheDir } from '@openclip/tokenizer';

export const REGEX_COMMIT_HASH = /^[0-9a-f]{40}$/;

/** The hub cache folder: `cacheDir` when given, else as huggingface_hub resolves it (the tokenizer package's resolver). */
export function hfHubCacheDir(cacheDir?: string): string {
  return cacheDir || envHubCacheDir(process.env);
}

/** `models--org--name` for a model repo id `org/name`. */
export function repoFolderName(repoId: string): string {
  return ['models', ...repoId.split('/')].join('--');
}

/** True for the values huggingface_hub accepts as "on" for boolean env vars. */
export function envFlag(name: string): boolean {
  const v = process.env[name];
  return v !== undefined && ['1', 'on', 'yes', 'true'].includes(v.trim().toLowerCase());
}

/** Whether `HF_HUB_OFFLINE` is set. */
export function hubOffline(): boolean {
  return envFlag('HF_HUB_OFFLINE');
}

export function validateRepoId(repoId: string): void {
  if (!/^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(repoId) || repoId.includes('..') || repoId.includes('--')) {
    throw new Error(`invalid Hugging Face repo id '${repoId}': expected 'org/name'`);
  }
}

export function validateFilename(filename: string): void {
  if (!filename || filename.startsWith('/') || filename.split('/').some((p) => p === '..' || p === '' || p === '.')) {
    throw new Error(`invalid file name '${filename}' in a Hugging Face repo`);
  }
}

export type CacheLookup = { status: 'cached'; path: string; commit: string } | { status: 'missing-on-hub'; commit: string } | { status: 'not-cached' };

/**
 * huggingface_hub `try_to_load_from_cache`: the cached file for (repo, file, revision), or
 * whether the hub is known not to have it (`.no_exist`), or nothing.
 */
export function lookupCache(repoId: string, filename: string, options: { revision?: string; cacheDir?: string } = {}): CacheLookup {
  const revision = options.revision ?? 'main';
  const repoDir = join(hfHubCacheDir(options.cacheDir), repoFolderName(repoId));
  let commit = revision;
  if (!REGEX_COMMIT_HASH.test(revision)) {
    const ref = join(repoDir, 'refs', revision);
    if (!existsSync(ref)) return { status: 'not-cached' };
    commit = readFileSync(ref, 'utf8').trim();
  }
  const snap = join(repoDir, 'snapshots', commit, filename);
  if (existsSync(snap)) return { status: 'cached', path: snap, commit };
  if (existsSync(join(repoDir, '.no_exist', commit, filename))) return { status: 'missing-on-hub', commit };
  return { status: 'not-cached' };
}
