/**
 * First-use download of a Hugging Face tokenizer (`text_cfg.hf_tokenizer_name`, e.g.
 * `timm/ViT-B-16-SigLIP`) into the Hugging Face cache, as `AutoTokenizer.from_pretrained` does in
 * Python: `tokenizer.json` (required) and the JSON files beside it that configure it. Afterwards
 * `@openclip/tokenizer` finds the folder in the cache.
 */
import { existsSync } from 'node:fs';
import { lookupCache, parseHfHubSpec } from '@openclip/common';
import { hfHubDownload, HubError } from './hf-download.js';
import type { HubDownloadOptions } from './hf-download.js';

/** Files of a Hugging Face tokenizer folder that `AutoTokenizer.from_pretrained` may read. */
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'vocab.json',
  'merges.txt',
  'vocab.txt',
  'spiece.model',
  'sentencepiece.bpe.model',
];

/** What our `HFTokenizer` reads: `tokenizer.json` must exist, the others are optional. */
export const TOKENIZER_DOWNLOAD_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'] as const;

/**
 * Downloads the tokenizer files of hub repo `name` (`org/name`, `hf-hub:org/name`, `org/name@rev`)
 * into the cache, unless `name` is a local path (`local-dir:` or an existing file/folder) or its
 * `tokenizer.json` is cached already, and returns the snapshot folder (null for local paths). Files absent from the repo other than
 * `tokenizer.json` are skipped; a repo without `tokenizer.json` fails naming it.
 */
export async function downloadHfTokenizer(name: string, options: HubDownloadOptions = {}): Promise<string | null> {
  if (name.startsWith('local-dir:') || existsSync(name)) return null;
  const spec = parseHfHubSpec(name);
  const repo = spec.repoId;
  const revision = options.revision ?? spec.revision;
  // First use only: a cached tokenizer.json is used as it is, without asking the Hub.
  const hit = lookupCache(repo, 'tokenizer.json', { revision, cacheDir: options.cacheDir });
  if (hit.status === 'cached') return hit.path.slice(0, hit.path.length - 'tokenizer.json'.length - 1);
  let folder: string | null = null;
  for (const file of TOKENIZER_DOWNLOAD_FILES) {
    try {
      const path = await hfHubDownload(repo, file, { ...options, revision });
      if (file === 'tokenizer.json') folder = path.slice(0, path.length - file.length - 1);
    } catch (e) {
      const optional = file !== 'tokenizer.json' && e instanceof HubError && (e.code === 'EntryNotFound' || e.code === 'Offline');
      if (!optional) {
        throw new HubError(`HF tokenizer '${name}': ${file}: ${(e as Error).message}`, e instanceof HubError ? e.code : 'Connection');
      }
    }
  }
  return folder;
}
