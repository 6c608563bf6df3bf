/**
 * OpenCLIP's pretrained registry API (`pretrained.py`): `list_pretrained`,
 * `list_pretrained_tags_by_model`, `list_pretrained_models_by_tag`, `is_pretrained_cfg`,
 * `get_pretrained_cfg` with `_clean_tag` normalisation (lower-case, `-` → `_`), including the
 * `<model>-quickgelu` aliases OpenCLIP adds for every tag trained with QuickGELU. Each pair is
 * also described for this port: which tower family it needs and whether it runs here.
 * Imports no tensor code (the CLI lists the registry without loading TensorFlow.js).
 */
import { externalTowerReason } from '../config/model-config.js';
import { getModelConfig, hasModelConfig } from '../config/registry.js';
import { lookupCache, parseHfHubSpec } from '@openclip/common';
import { hubOffline } from '../hub/hub-args.js';
import { architectureOf, PRETRAINED_TABLE, type Architecture, type PretrainedEntry } from './pretrained-table.js';

export type { PretrainedEntry, Architecture, Interpolation } from './pretrained-table.js';

/** A pretrained config as OpenCLIP returns it, plus the hub id and file split out of `hf_hub`. */
export interface PretrainedCfg extends PretrainedEntry {
  /** `org/repo` part of `hf_hub`. */
  hf_hub_id: string;
  /** The file named in `hf_hub`, or undefined for the default (`open_clip_model.safetensors`, else `open_clip_pytorch_model.bin`). */
  hf_filename?: string;
}

function buildRegistry(): Map<string, Map<string, PretrainedEntry>> {
  const reg = new Map<string, Map<string, PretrainedEntry>>();
  for (const [model, tags] of Object.entries(PRETRAINED_TABLE)) reg.set(model, new Map(Object.entries(tags)));
  // OpenCLIP copies every quick_gelu tag under `<model>-quickgelu`, after all base entries.
  const aliases: [string, Map<string, PretrainedEntry>][] = [];
  for (const [model, tags] of reg) {
    const qg = new Map([...tags].filter(([, e]) => e.quick_gelu));
    if (qg.size) aliases.push([`${model}-quickgelu`, qg]);
  }
  for (const [name, tags] of aliases) {
    const existing = reg.get(name);
    if (existing) for (const [t, e] of tags) existing.set(t, e);
    else reg.set(name, tags);
  }
  return reg;
}

let registry: Map<string, Map<string, PretrainedEntry>> | undefined;
function reg(): Map<string, Map<string, PretrainedEntry>> {
  registry ??= buildRegistry();
  return registry;
}

/** OpenCLIP `_clean_tag`: lower-case, `-` → `_`. */
export function cleanTag(tag: string): string {
  return tag.toLowerCase().replace(/-/g, '_');
}

/** OpenCLIP `list_pretrained()`: [model, tag] pairs (or `model:tag` strings), in registry order. */
export function listPretrained(asStr: true): string[];
export function listPretrained(asStr?: false): [string, string][];
export function listPretrained(asStr = false): [string, string][] | string[] {
  const out: [string, string][] = [];
  for (const [m, tags] of reg()) for (const t of tags.keys()) out.push([m, t]);
  return asStr ? out.map(([m, t]) => `${m}:${t}`) : out;
}

/** OpenCLIP `list_pretrained_tags_by_model(model)` (exact model name, as OpenCLIP). */
export function listPretrainedTagsByModel(model: string): string[] {
  return [...(reg().get(model)?.keys() ?? [])];
}

/** OpenCLIP `list_pretrained_models_by_tag(tag)`. */
export function listPretrainedModelsByTag(tag: string): string[] {
  const t = cleanTag(tag);
  return [...reg()].filter(([, tags]) => tags.has(t)).map(([m]) => m);
}

/** OpenCLIP `is_pretrained_cfg(model, tag)`. */
export function isPretrainedCfg(model: string, tag: string): boolean {
  return reg().get(model)?.has(cleanTag(tag)) ?? false;
}

/** Splits `org/repo/` or `org/repo/file` as OpenCLIP's `os.path.split`. */
export function splitHfHub(hfHub: string): { repoId: string; filename?: string } {
  const i = hfHub.lastIndexOf('/');
  const repoId = hfHub.slice(0, i);
  const filename = hfHub.slice(i + 1);
  return { repoId, filename: filename || undefined };
}

/** OpenCLIP `get_pretrained_cfg(model, tag)`; undefined where OpenCLIP returns `{}`. */
export function getPretrainedCfg(model: string, tag: string): PretrainedCfg | undefined {
  const e = reg().get(model)?.get(cleanTag(tag));
  if (!e) return undefined;
  const { repoId, filename } = splitHfHub(e.hf_hub);
  return { ...e, hf_hub_id: repoId, hf_filename: filename };
}

/** One registry row as this port sees it. */
export interface PretrainedInfo {
  model: string;
  tag: string;
  hf_hub_id: string;
  hf_filename?: string;
  quick_gelu: boolean;
  architecture: Architecture;
  /** True when the model is a built-in config whose towers this port implements (no timm / HF transformers tower). */
  runnable: boolean;
  /** Why it is not runnable, when it is not. */
  needs?: string;
}

function builtinHas(model: string): boolean {
  try {
    return hasModelConfig(model);
  } catch {
    return false;
  }
}

/** Every pair (optionally of one model), with hub id and whether it runs here. */
export function listPretrainedInfo(options: { model?: string; cacheDir?: string } = {}): PretrainedInfo[] {
  const rows: PretrainedInfo[] = [];
  const runnableCache = new Map<string, { runnable: boolean; architecture: Architecture; needs?: string }>();
  for (const [model, tags] of reg()) {
    if (options.model !== undefined && model !== options.model) continue;
    let r = runnableCache.get(model);
    if (!r) {
      const a = architectureOf(model);
      // Native towers run here; an HF tokenizer (CLIPA, MetaCLIP 2, SigLIP) is handled by @openclip/tokenizer;
      // timm towers run when the built-in config's timm model is one this port builds.
      const nativeTowers = a.architecture === 'native' || a.architecture === 'native+hf-tokenizer';
      const timmBuilt = a.architecture === 'timm' && builtinHas(model) && externalTowerReason(getModelConfig(model)) === null;
      const has = (nativeTowers && builtinHas(model)) || timmBuilt;
      r = {
        architecture: a.architecture,
        runnable: has,
        needs: has ? undefined : !nativeTowers ? a.needs : `model config '${model}' is not among the built-in configs`,
      };
      // an HF tokenizer is fetched on first use; offline, only a cached one can run
      const tok = has ? getModelConfig(model).text_cfg.hf_tokenizer_name : null;
      const spec = tok ? parseHfHubSpec(tok) : null;
      if (spec && hubOffline() && lookupCache(spec.repoId, 'tokenizer.json', { revision: spec.revision, cacheDir: options.cacheDir }).status !== 'cached') {
        r = { ...r, runnable: false, needs: `HF tokenizer ${tok}: not in the cache and HF_HUB_OFFLINE is set` };
      }
      runnableCache.set(model, r);
    }
    for (const [tag, e] of tags) {
      const { repoId, filename } = splitHfHub(e.hf_hub);
      rows.push({ model, tag, hf_hub_id: repoId, hf_filename: filename, quick_gelu: e.quick_gelu ?? false, ...r });
    }
  }
  return rows;
}
