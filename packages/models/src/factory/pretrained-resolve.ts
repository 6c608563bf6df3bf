/**
 * The factory's view of OpenCLIP's pretrained tags (`get_pretrained_cfg` + `download_pretrained_from_hf`):
 * tag lookup with OpenCLIP's `_clean_tag` normalisation and `-quickgelu` aliases, and the checkpoint
 * file in the standard Hugging Face cache layout (`$HF_HOME/hub/models--org--repo/snapshots/<rev>/`),
 * preferring `open_clip_model.safetensors` over `open_clip_pytorch_model.bin` as OpenCLIP does.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { nearestNames } from '../config/nearest.js';
import { PRETRAINED_TABLE } from '../pretrained/pretrained-table.js';
import type { PretrainedEntry } from '../pretrained/pretrained-table.js';

export interface PretrainedPreprocess {
  mean: [number, number, number];
  std: [number, number, number];
  interpolation: 'bicubic' | 'bilinear';
  resize_mode: 'shortest' | 'longest' | 'squash';
  fill_color: number;
}

/** OpenCLIP `_clean_tag`: lower case, '-' → '_'. */
export function cleanTag(tag: string): string {
  return tag.toLowerCase().replace(/-/g, '_');
}

/** The tags of `model` (including OpenCLIP's `<model>-quickgelu` aliases of quick_gelu tags). */
export function pretrainedTagsFor(model: string): Map<string, PretrainedEntry> {
  const direct = PRETRAINED_TABLE[model];
  if (direct) return new Map(Object.entries(direct));
  if (model.endsWith('-quickgelu')) {
    const base = PRETRAINED_TABLE[model.slice(0, -'-quickgelu'.length)];
    if (base) return new Map(Object.entries(base).filter(([, e]) => e.quick_gelu));
  }
  return new Map();
}

/** The registry entry of (model, tag), or an error naming the model's known tags / nearest models. */
export function pretrainedEntry(model: string, tag: string): PretrainedEntry {
  const tags = pretrainedTagsFor(model);
  if (tags.size === 0) {
    const near = nearestNames(model, Object.keys(PRETRAINED_TABLE));
    throw new Error(`no pretrained weights are registered for model '${model}'${near.length ? ` (models with weights near that name: ${near.join(', ')})` : ''}; pass a checkpoint path instead`);
  }
  const entry = tags.get(cleanTag(tag));
  if (!entry) throw new Error(`pretrained tag '${tag}' is not known for model '${model}' (known tags: ${[...tags.keys()].join(', ')}); pass a checkpoint path instead`);
  return entry;
}

/** The Hugging Face hub cache root: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
export function hfHubCacheDir(cacheDir?: string): string {
  if (cacheDir) return cacheDir;
  if (process.env.HF_HUB_CACHE) return process.env.HF_HUB_CACHE;
  const home = process.env.HF_HOME ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface');
  return join(home, 'hub');
}

/** Candidate file names for an `hf_hub` location, safetensors first (OpenCLIP's order). */
export function hubFilenames(hfHub: string): { repo: string; files: string[] } {
  const parts = hfHub.split('/');
  const repo = parts.slice(0, 2).join('/');
  const file = parts.slice(2).join('/') || 'open_clip_pytorch_model.bin';
  const stem = file.replace(/\.(bin|pth)$/, '');
  const files = stem !== file ? [`${stem === 'open_clip_pytorch_model' ? 'open_clip_model' : stem}.safetensors`, file] : [file];
  return { repo, files };
}

/** A file of `repo` already in the HF cache (the `refs/main` snapshot first, then any snapshot), or null. */
export function findInHfCache(repo: string, files: string[], cacheDir?: string): string | null {
  const root = join(hfHubCacheDir(cacheDir), `models--${repo.replace(/\//g, '--')}`);
  if (!existsSync(root)) return null;
  const snapshots = join(root, 'snapshots');
  if (!existsSync(snapshots)) return null;
  const revs: string[] = [];
  const ref = join(root, 'refs', 'main');
  if (existsSync(ref)) revs.push(readFileSync(ref, 'utf8').trim());
  for (const r of readdirSync(snapshots)) if (!revs.includes(r)) revs.push(r);
  for (const f of files) {
    for (const r of revs) {
      const p = join(snapshots, r, f);
      if (existsSync(p)) return p;
    }
  }
  return null;
}

export interface ResolvedPretrained {
  file: string;
  entry: PretrainedEntry;
  preprocess: PretrainedPreprocess;
}

/**
 * The checkpoint file of a pretrained tag, from the Hugging Face cache (shared with Python). A tag
 * whose files are not cached is an error telling how to fetch them.
 */
export async function resolvePretrainedTag(model: string, tag: string, options: { cacheDir?: string } = {}): Promise<ResolvedPretrained> {
  const entry = pretrainedEntry(model, tag);
  const { repo, files } = hubFilenames(entry.hf_hub);
  const file = findInHfCache(repo, files, options.cacheDir);
  if (!file) {
    throw new Error(
      `pretrained ${model}/${tag}: ${files.join(' or ')} of Hugging Face repo ${repo} is not in the cache ${hfHubCacheDir(options.cacheDir)}; ` +
      `download it there (e.g. \`huggingface-cli download ${repo} ${files[0]}\`) or pass the checkpoint path as --pretrained`,
    );
  }
  return {
    file,
    entry,
    preprocess: {
      mean: [...entry.mean] as [number, number, number],
      std: [...entry.std] as [number, number, number],
      interpolation: entry.interpolation,
      resize_mode: entry.resize_mode,
      fill_color: 0,
    },
  };
}
