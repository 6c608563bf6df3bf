/** Where OpenCLIP's `HFTokenizer` (via `AutoTokenizer.from_pretrained`) finds tokenizer files: a local folder or the Hugging Face hub cache layout. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';

export interface HfLocateOptions {
  /** Hub cache folder holding `models--org--name` (OpenCLIP's `cache_dir`); default from the environment. */
  cacheDir?: string;
  /** Branch, tag or commit; default 'main'. */
  revision?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * The hub cache folder, as huggingface_hub resolves it: `$HF_HUB_CACHE`, else the legacy
 * `$HUGGINGFACE_HUB_CACHE`, else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else
 * `~/.cache/huggingface/hub`. The one place the project reads these variables (the models
 * package's hub code resolves through it too).
 */
export function hfHubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HUGGINGFACE_HUB_CACHE) return env.HUGGINGFACE_HUB_CACHE;
  const home = env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface');
  return join(home, 'hub');
}

/** `org/name`, or a legacy un-namespaced id such as `bert-base-uncased`. */
const REPO_ID = /^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/;

/**
 * The folder holding `tokenizer.json` for `nameOrPath`: a folder, a path to `tokenizer.json`, a
 * `local-dir:PATH`, or a hub repo id (`org/name`, optionally `hf-hub:org/name`) present in the cache.
 * Nothing is downloaded; a missing tokenizer fails with the places that were searched.
 */
export function locateHfTokenizer(nameOrPath: string, options: HfLocateOptions = {}): string {
  let name = nameOrPath;
  if (name.startsWith('local-dir:')) name = name.slice('local-dir:'.length);
  if (existsSync(name)) {
    const dir = statSync(name).isDirectory() ? name : dirname(name);
    if (!statSync(name).isDirectory() && basename(name) !== 'tokenizer.json') {
      throw new Error(`${name}: expected a folder or a tokenizer.json file`);
    }
    if (!existsSync(join(dir, 'tokenizer.json'))) throw new Error(`${dir}: no tokenizer.json in this folder`);
    return dir;
  }
  if (name.startsWith('hf-hub:')) name = name.slice('hf-hub:'.length);
  const [repo, inlineRevision] = name.split('@', 2);
  if (!REPO_ID.test(repo)) {
    throw new Error(`HF tokenizer ${JSON.stringify(nameOrPath)} is neither an existing path nor a hub repo id like "org/name" or "name"`);
  }
  const revision = options.revision ?? inlineRevision ?? 'main';
  const cache = options.cacheDir ?? hfHubCacheDir(options.env);
  const repoDir = join(cache, `models--${repo.replace('/', '--')}`);
  const tried: string[] = [];
  const candidates: string[] = [];
  const ref = join(repoDir, 'refs', revision);
  if (existsSync(ref)) candidates.push(join(repoDir, 'snapshots', readFileSync(ref, 'utf8').trim()));
  candidates.push(join(repoDir, 'snapshots', revision));
  for (const dir of candidates) {
    tried.push(dir);
    if (existsSync(join(dir, 'tokenizer.json'))) return dir;
  }
  // No ref for the revision: a lone snapshot holding tokenizer.json is unambiguous.
  if (!options.revision && !inlineRevision && existsSync(join(repoDir, 'snapshots'))) {
    const snaps = readdirSync(join(repoDir, 'snapshots')).filter((s) => existsSync(join(repoDir, 'snapshots', s, 'tokenizer.json')));
    if (snaps.length === 1) return join(repoDir, 'snapshots', snaps[0]);
  }
  throw new Error(
    `HF tokenizer ${JSON.stringify(repo)} (revision ${revision}) not found in the hub cache: looked in ${tried.join(', ')}. ` +
      'Nothing is downloaded here: put the repo in the cache (e.g. with huggingface-cli download), set HF_HOME / HF_HUB_CACHE / --cache-dir, or pass a local folder holding tokenizer.json',
  );
}
