/** Where OpenCLIP's `HFTokenizer` (via `AutoTokenizer.from_pretrained`) finds tokenizer files: a local folder or the Hugging Face hub cache layout. */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { lookupCache, parseHfHubSpec } from '@openclip/common';

export interface HfLocateOptions {
  /** Hub cache folder holding `models--org--name` (OpenCLIP's `cache_dir`); default from the environment. */
  cacheDir?: string;
  /** Branch, tag or commit; default 'main'. */
  revision?: string;
  env?: NodeJS.ProcessEnv;
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
  const { repoId: repo, revision: inlineRevision } = parseHfHubSpec(name);
  if (!REPO_ID.test(repo)) {
    throw new Error(`HF tokenizer ${JSON.stringify(nameOrPath)} is neither an existing path nor a hub repo id like "org/name" or "name"`);
  }
  const revision = options.revision ?? inlineRevision ?? 'main';
  const hit = lookupCache(repo, 'tokenizer.json', { revision, cacheDir: options.cacheDir, env: options.env });
  if (hit.status === 'cached') return dirname(hit.path);
  const why = hit.status === 'missing-on-hub' ? `the cache records that commit ${hit.commit} has no tokenizer.json` : `looked in ${hit.looked}`;
  throw new Error(
    `HF tokenizer ${JSON.stringify(repo)} (revision ${revision}) not found in the hub cache: ${why}. ` +
      'Nothing is downloaded here: put the repo in the cache (e.g. with huggingface-cli download), set HF_HOME / HF_HUB_CACHE / --cache-dir, or pass a local folder holding tokenizer.json',
  );
}
