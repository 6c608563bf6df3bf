/**
 * OpenCLIP's `create_model` core: resolve a name / config file / config object, apply the
 * `force_*` overrides, reject timm/HF towers, and build CLIP, CustomTextCLIP or (through a
 * registered builder) CoCa. Pretrained weights and transforms are the factory's job.
 */
import { existsSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { ModelConfigError, cloneModelConfig, externalTowerReason, parseModelConfig } from '../config/model-config.js';
import type { ModelConfig } from '../config/model-config.js';
import { getModelConfig, hasModelConfig, readModelConfigFile } from '../config/registry.js';
import { CLIP, CustomTextCLIP } from './clip.js';
import type { ModelBuildOptions } from './clip.js';
import type { ModelClassName, OpenClipModel } from './types.js';

export interface CreateModelOptions extends ModelBuildOptions {
  /** force_quick_gelu: QuickGELU activations (OpenAI-pretrained weights). */
  forceQuickGelu?: boolean;
  /** force_patch_dropout: vision_cfg.patch_dropout (active in train mode only). */
  forcePatchDropout?: number;
  /** force_custom_text: build CustomTextCLIP (text keys under `text.`). */
  forceCustomText?: boolean;
  /** force_image_size: vision_cfg.image_size. */
  forceImageSize?: number | [number, number];
  /** force_context_length: text_cfg.context_length. */
  forceContextLength?: number;
  /** init_logit_scale / init_logit_bias model kwargs (OpenCLIP's `--siglip` sets log(10) and -10). */
  initLogitScale?: number;
  initLogitBias?: number;
}

export interface ResolvedModelConfig {
  /** The registry name or file stem, or null for an inline config object. */
  name: string | null;
  config: ModelConfig;
  modelClass: ModelClassName;
}

export type ModelBuilder = (config: ModelConfig, options: CreateModelOptions) => OpenClipModel;
const builders = new Map<ModelClassName, ModelBuilder>();

/** Registers the builder of a model class this module does not build itself (CoCa, by the CoCa module). */
export function registerModelBuilder(modelClass: ModelClassName, builder: ModelBuilder): void {
  builders.set(modelClass, builder);
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/**
 * The config `createModel` would build, with the force_* options applied, and the model class
 * OpenCLIP picks: CoCa when custom_text and multimodal_cfg, CustomTextCLIP when custom_text, else CLIP.
 * `nameOrConfig`: a registered name, a path to a model-config JSON file, or a config object.
 */
export function resolveModelConfig(nameOrConfig: string | ModelConfig | Record<string, unknown>, options: CreateModelOptions = {}): ResolvedModelConfig {
  let name: string | null = null;
  let config: ModelConfig;
  if (typeof nameOrConfig === 'string') {
    if (hasModelConfig(nameOrConfig)) {
      name = nameOrConfig;
      config = getModelConfig(nameOrConfig);
    } else if (nameOrConfig.endsWith('.json') && existsSync(nameOrConfig)) {
      name = basename(nameOrConfig, extname(nameOrConfig));
      config = readModelConfigFile(nameOrConfig);
    } else if (nameOrConfig.endsWith('.json')) {
      throw new ModelConfigError(`${nameOrConfig}: model-config file not found`);
    } else if (/^(hf-hub|local-dir):/.test(nameOrConfig)) {
      throw new ModelConfigError(`'${nameOrConfig}': hf-hub: and local-dir: models are resolved by the factory (createModelAndTransforms / createModelFromPretrained), not createModel`);
    } else {
      config = getModelConfig(nameOrConfig); // throws UnknownModelError with the nearest names
    }
  } else {
    // A parsed ModelConfig round-trips through the parser unchanged; a raw object gets defaults and checks.
    config = parseModelConfig(JSON.parse(JSON.stringify(nameOrConfig)), 'model config');
  }
  config = cloneModelConfig(config);
  if (options.forceQuickGelu) config.quick_gelu = true;
  if (options.forcePatchDropout !== undefined) {
    const p = options.forcePatchDropout;
    if (!(typeof p === 'number' && p >= 0 && p < 1)) throw new ModelConfigError(`forcePatchDropout must be in [0, 1), got ${p}`);
    config.vision_cfg.patch_dropout = p;
  }
  if (options.forceImageSize !== undefined) {
    const s = options.forceImageSize;
    if (!(isPositiveInt(s) || (Array.isArray(s) && s.length === 2 && s.every(isPositiveInt)))) {
      throw new ModelConfigError(`forceImageSize must be a positive integer or [height, width], got ${JSON.stringify(s)}`);
    }
    config.vision_cfg.image_size = Array.isArray(s) ? [s[0], s[1]] : s;
  }
  if (options.forceContextLength !== undefined) {
    if (!isPositiveInt(options.forceContextLength)) throw new ModelConfigError(`forceContextLength must be a positive integer, got ${options.forceContextLength}`);
    config.text_cfg.context_length = options.forceContextLength;
  }
  if (options.forceCustomText) config.custom_text = true;
  if (options.initLogitScale !== undefined) config.init_logit_scale = options.initLogitScale;
  if (options.initLogitBias !== undefined) config.init_logit_bias = options.initLogitBias;
  const modelClass: ModelClassName = config.custom_text ? (config.multimodal_cfg ? 'CoCa' : 'CustomTextCLIP') : 'CLIP';
  return { name, config, modelClass };
}

/**
 * Builds a randomly initialised model (OpenCLIP's init scheme, seeded) from a name, a model-config
 * file or a config object. Configs needing timm or Hugging Face towers are rejected.
 */
export function createModel(nameOrConfig: string | ModelConfig | Record<string, unknown>, options: CreateModelOptions = {}): OpenClipModel {
  const { name, config, modelClass } = resolveModelConfig(nameOrConfig, options);
  const reason = externalTowerReason(config);
  if (reason) throw new ModelConfigError(`${name ? `model '${name}': ` : ''}${reason}`);
  if (modelClass === 'CLIP') return new CLIP(config, options);
  if (modelClass === 'CustomTextCLIP') return new CustomTextCLIP(config, options);
  const builder = builders.get(modelClass);
  if (!builder) throw new ModelConfigError(`${name ? `model '${name}': ` : ''}no builder registered for ${modelClass} (import the CoCa module of @openclip/models)`);
  return builder(config, options);
}
