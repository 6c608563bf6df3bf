/**
 * OpenCLIP's factory (factory.py): `create_model_and_transforms` (model + train/val image transforms
 * from the merged preprocess config), `create_model_from_pretrained`, `get_tokenizer`, and the
 * `pretrained` argument as a local checkpoint file, a `local-dir:` folder or a registry tag.
 */
import { existsSync, readFileSync } from 'node:fs';
import { initEngine } from '@openclip/engine';
import { toFloat32 } from '@openclip/engine';
import type { RawTensor } from '@openclip/engine';
import { imageTransform, parsePreprocessConfig } from '@openclip/data';
import type { AugmentationConfig, ImageTransform, InterpolationName, PreprocessConfig, ResizeMode } from '@openclip/data';
import { tokenizerForTextConfig } from '@openclip/tokenizer';
import type { TextConfigLike, TextTokenizer } from '@openclip/tokenizer';
import { resizePosEmbed, resizeTextPosEmbed } from '../checkpoint/pos-embed.js';
import { loadStateDict } from '../checkpoint/checkpoint-file.js';
import { ModelConfigError, parseModelConfig } from '../config/model-config.js';
import type { ModelConfig } from '../config/model-config.js';
import { createModel, resolveModelConfig } from '../model/create.js';
import type { CreateModelOptions } from '../model/create.js';
import type { OpenClipModel } from '../model/types.js';
import type { LoadStateDictReport } from '../model/state-dict.js';
import { resolvePretrained } from '../hub/resolve-pretrained.js';
import type { OpenClipConfigFile } from '../hub/resolve-pretrained.js';
import { HF_CONFIG_NAME, lookupCache, parseHfHubSpec } from '@openclip/common';
import type { DownloadProgress, HubDownloadOptions } from '../hub/hf-download.js';
import { downloadHfTokenizer } from '../hub/hf-tokenizer-download.js';
import '../coca/coca.js';
import { TimmModel } from '../towers/timm/timm-model.js';
import { TimmSwin } from '../towers/timm/timm-swin.js';
import { resizeRelPosBiasTable } from '../towers/timm/timm-rel-pos-resize.js';
import { quickGeluMismatch } from './quick-gelu-check.js';

export interface FactoryOptions extends CreateModelOptions {
  /** A checkpoint file (.safetensors / .bin / .pt), or a pretrained tag of the model (e.g. 'openai', 'laion2b_s34b_b79k'). */
  pretrained?: string | null;
  /** Preprocessing overrides (OpenCLIP's image_mean / image_std / image_interpolation / image_resize_mode). */
  imageMean?: [number, number, number];
  imageStd?: [number, number, number];
  imageInterpolation?: InterpolationName;
  imageResizeMode?: ResizeMode;
  /** Training augmentation (OpenCLIP's aug_cfg). */
  augCfg?: Partial<AugmentationConfig> | Record<string, unknown>;
  /** Where pretrained downloads are cached (default: the Hugging Face cache). */
  cacheDir?: string;
  /** Progress of a pretrained download. */
  onDownloadProgress?: (p: DownloadProgress) => void;
  /** Select the engine backend first ('auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'). */
  backend?: string;
  /** Strict checkpoint loading (default true, as OpenCLIP's load_checkpoint). */
  strict?: boolean;
  /** Receives OpenCLIP's factory warnings (QuickGELU mismatch); default process.emitWarning as a UserWarning. */
  onWarning?: (message: string) => void;
}

export interface ModelAndTransforms {
  model: OpenClipModel;
  preprocessTrain: ImageTransform;
  preprocessVal: ImageTransform;
  /** The preprocess config both transforms use. */
  preprocessCfg: PreprocessConfig;
  /** Where the weights came from (null: random init). */
  checkpoint: string | null;
  /** The config name or file stem (null for an inline config object). */
  name: string | null;
}

/** Preprocessing a pretrained tag or an `open_clip_config.json` carries. */
export type PretrainedPreprocess = Partial<Pick<PreprocessConfig, 'mean' | 'std' | 'interpolation' | 'resize_mode' | 'fill_color'>>;

type ModelSpec = string | ModelConfig | Record<string, unknown>;

interface ResolvedSource {
  spec: ModelSpec;
  name: string | null;
  checkpoint: string | null;
  preprocess: PretrainedPreprocess;
}

const SCHEMES = ['hf-hub:', 'local-dir:'];

function modelCfgOf(config: OpenClipConfigFile | undefined, where: string): ModelConfig {
  if (!config?.model_cfg) throw new ModelConfigError(`${where}: no "model_cfg" in ${HF_CONFIG_NAME}`);
  return parseModelConfig(config.model_cfg, `${where} ${HF_CONFIG_NAME} model_cfg`);
}

function preprocessOf(p: Record<string, unknown> | undefined | null): PretrainedPreprocess {
  const out: Record<string, unknown> = {};
  for (const k of ['mean', 'std', 'interpolation', 'resize_mode', 'fill_color']) if (p?.[k] !== undefined) out[k] = p[k];
  return out as PretrainedPreprocess;
}

/**
 * Model spec + checkpoint path + pretrained preprocessing for `create_model`'s (name, pretrained)
 * pair: `hf-hub:` / `local-dir:` names carry their config and weights; otherwise `pretrained` is a
 * registry tag (downloaded into the Hugging Face cache), `hf-hub:`/`local-dir:`, or a checkpoint path.
 */
async function resolveSource(nameOrConfig: ModelSpec, pretrained: string | null | undefined, options: FactoryOptions): Promise<ResolvedSource> {
  const name = typeof nameOrConfig === 'string' ? nameOrConfig : null;
  const hub = { cacheDir: options.cacheDir, onProgress: options.onDownloadProgress };
  if (name && SCHEMES.some((s) => name.startsWith(s))) {
    const loc = await resolvePretrained(name, pretrained ?? undefined, hub);
    return { spec: modelCfgOf(loc.config, name), name, checkpoint: loc.checkpointPath, preprocess: preprocessOf(loc.config?.preprocess_cfg) };
  }
  if (!pretrained) return { spec: nameOrConfig, name, checkpoint: null, preprocess: {} };
  if (!name) {
    // An inline config: only a file (or a folder holding one) can be its weights.
    if (!existsSync(pretrained)) throw new Error(`pretrained '${pretrained}': not a file (a pretrained tag needs a model name, not an inline config)`);
    const loc = await resolvePretrained('(config)', pretrained, hub);
    return { spec: nameOrConfig, name, checkpoint: loc.checkpointPath, preprocess: {} };
  }
  const loc = await resolvePretrained(name, pretrained, hub);
  const preprocess = loc.pretrainedCfg ? preprocessOf(loc.pretrainedCfg as unknown as Record<string, unknown>) : preprocessOf(loc.config?.preprocess_cfg);
  return { spec: nameOrConfig, name, checkpoint: loc.checkpointPath, preprocess };
}

/**
 * OpenCLIP's load_checkpoint fix-ups on a state dict about to be loaded into `model`: resize the
 * vision / text positional embeddings to the model's grid / context, drop `position_ids`, and add a
 * zero `logit_bias` when the model has one and the checkpoint does not.
 */
export function adaptStateDict(model: OpenClipModel, sd: Map<string, RawTensor>): Map<string, RawTensor> {
  const out = new Map(sd);
  for (const k of [...out.keys()]) if (k.endsWith('position_ids')) out.delete(k);
  const params = model.params;
  const vpe = params.get('visual.positional_embedding');
  const cpe = out.get('visual.positional_embedding');
  if (vpe && cpe && vpe.shape[0] !== cpe.shape[0] && vpe.shape.length === 2) {
    const v = model.config.vision_cfg;
    const img = typeof v.image_size === 'number' ? [v.image_size, v.image_size] : v.image_size;
    const patch = v.patch_size === null ? null : typeof v.patch_size === 'number' ? [v.patch_size, v.patch_size] : v.patch_size;
    if (patch) resizePosEmbed(out, [Math.floor(img[0]! / patch[0]!), Math.floor(img[1]! / patch[1]!)]);
  }
  resizeTimmPosEmbed(model, out);
  resizeSwinBiasTables(model, out);
  for (const key of ['positional_embedding', 'text.positional_embedding']) {
    const mine = params.get(key);
    const theirs = out.get(key);
    if (mine && theirs && mine.shape[0] !== theirs.shape[0]) resizeTextPosEmbed(out, mine.shape[0]!, mine.shape[1]!, { key });
  }
  const bias = params.get('logit_bias');
  if (bias && !out.has('logit_bias')) out.set('logit_bias', { dtype: 'F32', shape: bias.shape, data: new Float32Array(bias.size) });
  return out;
}

/**
 * A timm trunk's `pos_embed` [1, N, D] from a checkpoint at another grid, resampled as timm's
 * `set_input_size` does after OpenCLIP loads the weights (`--force-image-size`): bicubic with
 * antialiasing, prefix tokens kept unless the trunk does not embed them (`no_embed_class`).
 */
function resizeTimmPosEmbed(model: OpenClipModel, sd: Map<string, RawTensor>): void {
  const visual = (model as { visual?: unknown }).visual;
  if (!(visual instanceof TimmModel) || !('posEmbed' in visual.trunk)) return; // convolutional trunks have no position table
  const key = `${visual.prefix}.trunk.pos_embed`;
  const theirs = sd.get(key);
  const mine = visual.trunk.posEmbed;
  if (!mine || !theirs || theirs.shape.length !== 3 || theirs.shape[1] === mine.shape[1]) return;
  const extra = visual.trunk.noEmbedClass ? 0 : visual.trunk.numPrefixTokens;
  const tmp = new Map([[key, { ...theirs, shape: [theirs.shape[1]!, theirs.shape[2]!] }]]);
  resizePosEmbed(tmp, visual.trunk.gridSize, { key, extraTokens: extra });
  const r = tmp.get(key)!;
  sd.set(key, { ...r, shape: [1, r.shape[0]!, r.shape[1]!] });
}

/**
 * A Swin trunk's relative-position bias tables from a checkpoint at another window, resampled as
 * timm's `set_input_size` → `set_window_size` does after OpenCLIP loads the weights
 * (`--force-image-size`; timm-rel-pos-resize.ts).
 */
function resizeSwinBiasTables(model: OpenClipModel, sd: Map<string, RawTensor>): void {
  const visual = (model as { visual?: unknown }).visual;
  if (!(visual instanceof TimmModel) || !(visual.trunk instanceof TimmSwin)) return;
  for (const { key, window } of visual.trunk.relPosTables()) {
    const theirs = sd.get(key);
    if (!theirs || theirs.shape.length !== 2) continue;
    // the checkpoint's window is the side of its square table; the row count alone can agree across windows (3×3 and 9×1)
    const [n, heads] = theirs.shape as [number, number];
    const side = Math.round(Math.sqrt(n));
    if (side * side === n && side === 2 * window[0] - 1 && side === 2 * window[1] - 1) continue;
    const rows = (2 * window[0] - 1) * (2 * window[1] - 1);
    if (side * side !== n && n === rows) continue; // a rectangular table already at this window (saved at this size)
    sd.set(key, { dtype: 'F32', shape: [rows, heads], data: resizeRelPosBiasTable(toFloat32(theirs), n, heads, window, key) });
  }
}

/** Whether a state dict holds a re-parameterised timm trunk (`visual.trunk.*.reparam_conv.weight`, timm's inference_mode). */
export function hasReparamKeys(sd: Map<string, RawTensor>): boolean {
  for (const k of sd.keys()) if (k.startsWith('visual.trunk.') && k.endsWith('.reparam_conv.weight')) return true;
  return false;
}

/** Loads a checkpoint file into `model` (strict by default), after OpenCLIP's fix-ups. */
export function loadCheckpointInto(model: OpenClipModel, path: string, options: { strict?: boolean } = {}): LoadStateDictReport {
  const sd = adaptStateDict(model, loadStateDict(path));
  return model.loadStateDict(sd, { strict: options.strict ?? true, source: path });
}

/** The preprocess config of a model: its config's preprocess_cfg, then the pretrained tag's, then the overrides. */
export function mergePreprocessConfig(config: ModelConfig, pretrained: PretrainedPreprocess, options: FactoryOptions): PreprocessConfig {
  const merged: Record<string, unknown> = { ...(config.preprocess_cfg ?? {}) };
  for (const k of ['mean', 'std', 'interpolation', 'resize_mode', 'fill_color'] as const) {
    if (pretrained[k] !== undefined) merged[k] = pretrained[k];
  }
  merged.image_size = config.vision_cfg.image_size;
  if (options.imageMean) merged.mean = options.imageMean;
  if (options.imageStd) merged.std = options.imageStd;
  if (options.imageInterpolation) merged.interpolation = options.imageInterpolation;
  if (options.imageResizeMode) merged.resize_mode = options.imageResizeMode;
  return parsePreprocessConfig(merged);
}

async function build(nameOrConfig: ModelSpec, options: FactoryOptions, requirePretrained: boolean) {
  if (options.backend !== undefined) await initEngine({ backend: options.backend });
  const src = await resolveSource(nameOrConfig, options.pretrained, options);
  if (requirePretrained && !src.checkpoint) {
    throw new Error(`createModelFromPretrained: model ${src.name ?? '(config)'} needs pretrained weights (a tag or a checkpoint path)`);
  }
  // a MobileCLIP checkpoint saved after timm's reparameterize_model holds the fused convolutions: build that structure
  const sd = src.checkpoint ? loadStateDict(src.checkpoint) : null;
  const reparam = sd !== null && hasReparamKeys(sd);
  const model = createModel(src.spec, { ...options, initWeights: src.checkpoint ? false : options.initWeights, ...(reparam ? { timmInferenceMode: true } : {}) });
  const mismatch = typeof nameOrConfig === 'string' && options.pretrained ? quickGeluMismatch(nameOrConfig, options.pretrained, model.config.quick_gelu) : null;
  if (mismatch) (options.onWarning ?? ((m: string) => process.emitWarning(m, 'UserWarning')))(mismatch);
  try {
    if (src.checkpoint && sd) model.loadStateDict(adaptStateDict(model, sd), { strict: options.strict ?? true, source: src.checkpoint });
    const preprocessCfg = mergePreprocessConfig(model.config, src.preprocess, options);
    return { model, preprocessCfg, checkpoint: src.checkpoint, name: src.name };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/**
 * OpenCLIP's `create_model_and_transforms`: the model (random init, or `pretrained` loaded strictly)
 * with its training and evaluation image transforms.
 */
export async function createModelAndTransforms(nameOrConfig: ModelSpec, options: FactoryOptions = {}): Promise<ModelAndTransforms> {
  const { model, preprocessCfg, checkpoint, name } = await build(nameOrConfig, options, false);
  try {
    return {
      model,
      preprocessTrain: imageTransform(preprocessCfg, { isTrain: true, aug: options.augCfg }),
      preprocessVal: imageTransform(preprocessCfg, { isTrain: false }),
      preprocessCfg,
      checkpoint,
      name,
    };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** OpenCLIP's `create_model_from_pretrained`: weights are required; returns the model and its eval transform. */
export async function createModelFromPretrained(
  nameOrConfig: ModelSpec,
  pretrained: string | null | undefined,
  options: FactoryOptions = {},
): Promise<{ model: OpenClipModel; preprocess: ImageTransform; preprocessCfg: PreprocessConfig; checkpoint: string }> {
  const { model, preprocessCfg, checkpoint } = await build(nameOrConfig, { ...options, pretrained }, true);
  return { model, preprocess: imageTransform(preprocessCfg, { isTrain: false }), preprocessCfg, checkpoint: checkpoint! };
}

function readOpenClipConfig(path: string): OpenClipConfigFile {
  if (!existsSync(path)) throw new ModelConfigError(`${path}: not found`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as OpenClipConfigFile;
  } catch (e) {
    throw new ModelConfigError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

export interface GetTokenizerOptions {
  /** Overrides text_cfg.context_length. */
  contextLength?: number;
  cacheDir?: string;
}

/**
 * OpenCLIP's `get_tokenizer`: the CLIP BPE tokenizer at the config's context length with its
 * `tokenizer_kwargs`, or the Hugging Face tokenizer named by `text_cfg.hf_tokenizer_name` (read from
 * the HF cache), as `@openclip/tokenizer`'s `tokenizerForTextConfig` selects.
 */
export function getTokenizer(nameOrConfig: ModelSpec, options: GetTokenizerOptions = {}): TextTokenizer {
  const { config, name } = tokenizerModelConfig(nameOrConfig, options);
  return tokenizerForTextConfig(config.text_cfg as unknown as TextConfigLike, {
    modelName: name || undefined,
    contextLength: options.contextLength,
    cacheDir: options.cacheDir,
  });
}

/**
 * `getTokenizer` that first downloads the Hugging Face tokenizer named by `text_cfg.hf_tokenizer_name`
 * into the HF cache when it is not there (as Python's `AutoTokenizer.from_pretrained`), through the
 * Hub client (`HF_ENDPOINT`, `HF_TOKEN`, `HF_HUB_OFFLINE` honoured).
 */
export async function getTokenizerAsync(nameOrConfig: ModelSpec, options: GetTokenizerOptions & Omit<HubDownloadOptions, 'cacheDir'> = {}): Promise<TextTokenizer> {
  const { config } = tokenizerModelConfig(nameOrConfig, options);
  const hf = config.text_cfg.hf_tokenizer_name;
  if (hf) await downloadHfTokenizer(hf, { ...options, cacheDir: options.cacheDir });
  return getTokenizer(nameOrConfig, options);
}

function tokenizerModelConfig(nameOrConfig: ModelSpec, options: GetTokenizerOptions): { config: ModelConfig; name: string } {
  let config: ModelConfig;
  let name = '';
  if (typeof nameOrConfig === 'string' && nameOrConfig.startsWith('local-dir:')) {
    const dir = nameOrConfig.slice('local-dir:'.length);
    config = modelCfgOf(readOpenClipConfig(`${dir}/${HF_CONFIG_NAME}`), nameOrConfig);
  } else if (typeof nameOrConfig === 'string' && nameOrConfig.startsWith('hf-hub:')) {
    const { repoId, revision } = parseHfHubSpec(nameOrConfig);
    const hit = lookupCache(repoId, HF_CONFIG_NAME, { revision, cacheDir: options.cacheDir });
    if (hit.status !== 'cached') {
      throw new ModelConfigError(`${nameOrConfig}: ${HF_CONFIG_NAME} is not in the Hugging Face cache; create the model first (createModelAndTransforms downloads it)`);
    }
    config = modelCfgOf(readOpenClipConfig(hit.path), nameOrConfig);
  } else {
    const r = resolveModelConfig(nameOrConfig);
    config = r.config;
    name = r.name ?? '';
  }
  return { config, name };
}
