/**
 * Where OpenCLIP's `pretrained` argument points (factory.py / pretrained.py): a registry tag of
 * the model (downloaded from its `hf_hub` repo, `.safetensors` preferred over `.bin`), an
 * `hf-hub:org/name[@revision]` repo (weights + `open_clip_config.json`), a `local-dir:PATH`
 * folder laid out like a hub repo, or a checkpoint file path.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { getPretrainedCfg, listPretrainedTagsByModel, type PretrainedCfg } from '../pretrained/pretrained.js';
import { HF_CONFIG_NAME, HF_WEIGHTS_NAME, parseHfHubSpec, safeAlternatives } from '@openclip/common';
import { hfHubDownload, HubError, type HubDownloadOptions } from './hf-download.js';


/** OpenCLIP `_find_checkpoint_in_dir` preference order. */
export const LOCAL_DIR_CHECKPOINT_NAMES = [
  'open_clip_model.safetensors',
  'open_clip_pytorch_model.safetensors',
  'open_clip_pytorch_model.bin',
  'open_clip_pytorch_model.pth',
  'model.safetensors',
  'pytorch_model.bin',
  'pytorch_model.pth',
  'model.pth',
] as const;

/** `open_clip_config.json`: the model config plus the preprocess config. */
export interface OpenClipConfigFile {
  model_cfg?: Record<string, unknown>;
  preprocess_cfg?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface PretrainedLocation {
  source: 'tag' | 'hf-hub' | 'local-dir' | 'file';
  /** The weights file to load. */
  checkpointPath: string;
  /** For hf-hub and local-dir: the parsed `open_clip_config.json`. */
  config?: OpenClipConfigFile;
  configPath?: string;
  /** For a registry tag: OpenCLIP's pretrained cfg (mean, std, interpolation, resize_mode, quick_gelu). */
  pretrainedCfg?: PretrainedCfg;
  repoId?: string;
  revision?: string;
}

/**
 * OpenCLIP `download_pretrained_from_hf`: tries the safetensors alternative first, then the
 * named file (default `open_clip_pytorch_model.bin`).
 */
export async function downloadPretrainedFromHf(repoId: string, options: HubDownloadOptions & { filename?: string } = {}): Promise<string> {
  const filename = options.filename ?? HF_WEIGHTS_NAME;
  for (const alt of safeAlternatives(filename)) {
    try {
      return await hfHubDownload(repoId, alt, options);
    } catch (e) {
      if (!(e instanceof HubError) || (e.code !== 'EntryNotFound' && e.code !== 'Offline')) throw e;
    }
  }
  return hfHubDownload(repoId, filename, options);
}

function readConfig(path: string): OpenClipConfigFile {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error(`${path}: expected a JSON object with model_cfg and preprocess_cfg`);
  return json as OpenClipConfigFile;
}

async function fromHub(spec: string, options: HubDownloadOptions): Promise<PretrainedLocation> {
  const { repoId, revision } = parseHfHubSpec(spec);
  const opts = { ...options, revision: revision ?? options.revision };
  const configPath = await hfHubDownload(repoId, HF_CONFIG_NAME, opts).catch((e: unknown) => {
    if (e instanceof HubError && e.code === 'EntryNotFound') {
      throw new HubError(`hf-hub:${repoId}: the repo has no ${HF_CONFIG_NAME}, so it is not an OpenCLIP model repo`, 'EntryNotFound');
    }
    throw e;
  });
  const checkpointPath = await downloadPretrainedFromHf(repoId, opts);
  return { source: 'hf-hub', checkpointPath, config: readConfig(configPath), configPath, repoId, revision: opts.revision ?? 'main' };
}

function fromLocalDir(dir: string): PretrainedLocation {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`local-dir:${dir}: not a directory`);
  const name = LOCAL_DIR_CHECKPOINT_NAMES.find((n) => existsSync(join(dir, n)));
  if (!name) throw new Error(`local-dir:${dir}: no checkpoint found (looked for ${LOCAL_DIR_CHECKPOINT_NAMES.join(', ')})`);
  const configPath = join(dir, HF_CONFIG_NAME);
  if (!existsSync(configPath)) throw new Error(`local-dir:${dir}: missing ${HF_CONFIG_NAME}`);
  return { source: 'local-dir', checkpointPath: join(dir, name), config: readConfig(configPath), configPath };
}

/**
 * Resolves (model, pretrained) as OpenCLIP's factory does. A `hf-hub:` or `local-dir:` model
 * name carries its own weights (`pretrained` must then be empty); otherwise `pretrained` is a
 * tag of `model`, `hf-hub:...`, `local-dir:...`, or a checkpoint path.
 */
export async function resolvePretrained(model: string, pretrained: string | undefined, options: HubDownloadOptions = {}): Promise<PretrainedLocation> {
  if (model.startsWith('hf-hub:') || model.startsWith('local-dir:')) {
    if (pretrained) throw new Error(`model '${model}' already names its weights; do not also pass pretrained '${pretrained}'`);
    return model.startsWith('hf-hub:') ? fromHub(model, options) : fromLocalDir(model.slice('local-dir:'.length));
  }
  if (!pretrained) throw new Error(`no pretrained weights given for model '${model}'`);
  if (pretrained.startsWith('hf-hub:')) return fromHub(pretrained, options);
  if (pretrained.startsWith('local-dir:')) return fromLocalDir(pretrained.slice('local-dir:'.length));
  const cfg = getPretrainedCfg(model, pretrained);
  if (cfg) {
    const checkpointPath = await downloadPretrainedFromHf(cfg.hf_hub_id, { ...options, filename: cfg.hf_filename });
    return { source: 'tag', checkpointPath, pretrainedCfg: cfg, repoId: cfg.hf_hub_id, revision: options.revision ?? 'main' };
  }
  if (existsSync(pretrained)) {
    if (statSync(pretrained).isDirectory()) return fromLocalDir(pretrained);
    return { source: 'file', checkpointPath: pretrained };
  }
  const tags = listPretrainedTagsByModel(model);
  throw new Error(
    `pretrained '${pretrained}' is neither a pretrained tag of '${model}' (${tags.length ? `tags: ${tags.join(', ')}` : 'it has no pretrained tags'}) nor an existing checkpoint file, nor hf-hub:org/name or local-dir:PATH`,
  );
}
