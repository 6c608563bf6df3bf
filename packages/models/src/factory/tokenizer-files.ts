/**
 * On-demand download of a model's Hugging Face tokenizer (text_cfg.hf_tokenizer_name: CLIPA's
 * bert-base-uncased, MetaCLIP 2 worldwide's XLM-V, ...), as OpenCLIP's AutoTokenizer.from_pretrained
 * fetches it: `tokenizer.json` (required) and `tokenizer_config.json` / `special_tokens_map.json`
 * (when the repo has them) into the shared Hugging Face cache, so getTokenizer finds them.
 * Nothing is fetched when the tokenizer is a local folder, already cached, or HF_HUB_OFFLINE is set.
 */
import { existsSync } from 'node:fs';
import { locateHfTokenizer } from '@openclip/tokenizer';
import { resolveModelConfig } from '../model/create.js';
import type { ModelConfig } from '../config/model-config.js';
import { hfHubDownload, HubError, type DownloadProgress } from '../hub/hf-download.js';
import { hubOffline } from '../hub/hf-cache.js';

const OPTIONAL = ['tokenizer_config.json', 'special_tokens_map.json'];

/** The HF tokenizer repo a model needs, or null (CLIP BPE, or a local tokenizer folder). */
export function hfTokenizerRepo(nameOrConfig: string | ModelConfig | Record<string, unknown>): { repo: string; revision?: string } | null {
  if (typeof nameOrConfig === 'string' && (nameOrConfig.startsWith('hf-hub:') || nameOrConfig.startsWith('local-dir:'))) return null; // their folder carries the tokenizer
  const name = resolveModelConfig(nameOrConfig as never).config.text_cfg.hf_tokenizer_name;
  if (!name || name.startsWith('local-dir:') || existsSync(name)) return null;
  const [repo, revision] = name.replace(/^hf-hub:/, '').split('@', 2);
  return { repo, revision };
}

/** Downloads the model's HF tokenizer files when they are not cached; returns the files fetched. */
export async function ensureTokenizerFiles(
  nameOrConfig: string | ModelConfig | Record<string, unknown>,
  options: { cacheDir?: string; onDownloadProgress?: (p: DownloadProgress) => void } = {},
): Promise<string[]> {
  const need = hfTokenizerRepo(nameOrConfig);
  if (!need) return [];
  try {
    locateHfTokenizer(need.revision ? `${need.repo}@${need.revision}` : need.repo, { cacheDir: options.cacheDir });
    return [];
  } catch {
    // not cached: fetch it below
  }
  if (hubOffline()) return []; // getTokenizer then says where it looked
  const got = [await hfHubDownload(need.repo, 'tokenizer.json', { cacheDir: options.cacheDir, revision: need.revision, onProgress: options.onDownloadProgress })];
  for (const f of OPTIONAL) {
    try {
      got.push(await hfHubDownload(need.repo, f, { cacheDir: options.cacheDir, revision: need.revision }));
    } catch (e) {
      if (!(e instanceof HubError && e.code === 'EntryNotFound')) throw e;
    }
  }
  return got;
}
