/**
 * The Hugging Face Hub cache shared with Python's `huggingface_hub` (and so with OpenCLIP and
 * transformers): where it is, and which cached file answers (repo, file, revision). The layout is
 * `<cache>/models--org--name/{blobs/<etag>, snapshots/<commit>/<file>, refs/<revision>,
 * .no_exist/<commit>/<file>}`. Nothing here touches the network; the download lives in
 * `@openclip/models`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** A full commit id: the only revision looked up in `snapshots/` without a `refs/` file. */
export const REGEX_COMMIT_HASH = /^[0-9a-f]{40}$/;

/** Python's `os.path.expanduser` for the current user: a leading `~` (alone or before `/`) is the home folder. */
function expandUser(path: string, env: NodeJS.ProcessEnv): string {
  if (path !== '~' && !path.startsWith('~/')) return path;
  return (env.HOME || homedir()) + path.slice(1);
}

/** Python's `os.path.expandvars`: `$NAME` and `${NAME}` replaced when NAME is set, left as written otherwise. */
function expandVars(path: string, env: NodeJS.ProcessEnv): string {
  return path.replace(/\$(\w+|\{[^}]*\})/g, (whole: string, name: string) => {
    const key = name.startsWith('{') ? name.slice(1, -1) : name;
    const value = env[key];
    return value === undefined ? whole : value;
  });
}

/** Python's expanduser, then expandvars, on a path taken from the environment. */
function expand(path: string, env: NodeJS.ProcessEnv): string {
  return expandVars(expandUser(path, env), env);
}

/**
 * huggingface_hub's home folder: `$HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else
 * `~/.cache/huggingface`, with `~` and `$VAR` expanded. The cache and the login token live under it.
 */
export function hfHomeDir(env: NodeJS.ProcessEnv = process.env): string {
  return expand(env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(env.HOME || homedir(), '.cache'), 'huggingface'), env);
}

/** Where `huggingface-cli login` stores the token: `$HF_TOKEN_PATH` (expanded), else `<hfHomeDir>/token`. */
export function hfTokenPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.HF_TOKEN_PATH ? expand(env.HF_TOKEN_PATH, env) : join(hfHomeDir(env), 'token');
}

/**
 * The hub cache folder: `cacheDir` when given, else as huggingface_hub resolves it —
 * `$HF_HUB_CACHE`, else the legacy `$HUGGINGFACE_HUB_CACHE`, else `$HF_HOME/hub`, else
 * `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`, with `~` and `$VAR`
 * expanded in the variables' values as Python does. An empty HF_HUB_CACHE or
 * HUGGINGFACE_HUB_CACHE counts as unset. The one place the project reads these variables.
 */
export function hfHubCacheDir(cacheDir?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (cacheDir) return cacheDir;
  if (env.HF_HUB_CACHE) return expand(env.HF_HUB_CACHE, env);
  if (env.HUGGINGFACE_HUB_CACHE) return expand(env.HUGGINGFACE_HUB_CACHE, env);
  return join(hfHomeDir(env), 'hub');
}

/** `models--org--name` for a model repo id `org/name` (or a legacy `name`). */
export function repoFolderName(repoId: string): string {
  return ['models', ...repoId.split('/')].join('--');
}

export type CacheLookup =
  | { status: 'cached'; path: string; commit: string }
  | { status: 'missing-on-hub'; commit: string }
  /** `looked`: the ref file or snapshot file that is absent. */
  | { status: 'not-cached'; looked: string };

export interface CacheLookupOptions {
  /** Branch, tag or full commit id; default 'main'. */
  revision?: string;
  /** The hub cache folder; default from the environment (hfHubCacheDir). */
  cacheDir?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * The cached file for (repo, file, revision), as `hf_hub_download` finds it without the network:
 * a full commit id names its snapshot; any other revision is read from `refs/<revision>`, and a
 * revision without a ref is not cached (no guess among the snapshots). A `.no_exist` marker for the
 * commit says the Hub is known not to have the file.
 */
export function lookupCache(repoId: string, filename: string, options: CacheLookupOptions = {}): CacheLookup {
  const revision = options.revision ?? 'main';
  const repoDir = join(hfHubCacheDir(options.cacheDir, options.env), repoFolderName(repoId));
  let commit = revision;
  if (!REGEX_COMMIT_HASH.test(revision)) {
    const ref = join(repoDir, 'refs', revision);
    if (!existsSync(ref)) return { status: 'not-cached', looked: ref };
    commit = readFileSync(ref, 'utf8').trim();
  }
  const snap = join(repoDir, 'snapshots', commit, filename);
  if (existsSync(snap)) return { status: 'cached', path: snap, commit };
  if (existsSync(join(repoDir, '.no_exist', commit, filename))) return { status: 'missing-on-hub', commit };
  return { status: 'not-cached', looked: snap };
}
