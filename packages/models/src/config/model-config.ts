/**
 * OpenCLIP's model-config JSON schema (`model_configs/*.json`): `CLIPVisionCfg`, `CLIPTextCfg`,
 * `MultimodalCfg` and the top-level keys, with the dataclass defaults of OpenCLIP 3.1.0 filled in
 * by one parser that rejects unknown keys (naming the nearest valid one) and ill-typed values.
 */
import { didYouMean } from '@openclip/common';
import { timmModelReason } from '../towers/timm/timm-registry.js';

/** Vision tower options (`CLIPVisionCfg`). `layers` as a 4-list selects ModifiedResNet. */
export interface VisionConfig {
  layers: number | [number, number, number, number];
  width: number;
  head_width: number;
  mlp_ratio: number;
  patch_size: number | [number, number] | null;
  image_size: number | [number, number];
  ls_init_value: number | null;
  patch_dropout: number;
  attentional_pool: boolean | 'parallel' | 'cascade';
  attn_pooler_queries: number;
  attn_pooler_heads: number;
  no_ln_pre: boolean;
  pos_embed_type: 'learnable' | 'sin_cos_2d';
  final_ln_after_pool: boolean;
  pool_type: 'tok' | 'avg' | 'none';
  output_tokens: boolean;
  act_kwargs: Record<string, unknown> | null;
  norm_kwargs: Record<string, unknown> | null;
  block_type: 'default' | 'custom' | null;
  qk_norm: boolean;
  scaled_cosine_attn: boolean;
  scale_heads: boolean;
  scale_attn_inner: boolean;
  scale_attn: boolean;
  scale_fc: boolean;
  timm_model_name: string | null;
  timm_model_pretrained: boolean;
  timm_pool: string | null;
  timm_proj: string | null;
  timm_proj_bias: boolean;
  timm_drop: number;
  timm_drop_path: number | null;
}

/** Text tower options (`CLIPTextCfg`). */
export interface TextConfig {
  context_length: number;
  vocab_size: number;
  hf_tokenizer_name: string | null;
  tokenizer_mode: string | null;
  tokenizer_kwargs: Record<string, unknown> | null;
  width: number;
  heads: number;
  layers: number;
  mlp_ratio: number;
  ls_init_value: number | null;
  embed_cls: boolean;
  pad_id: number;
  eos_id: number;
  no_causal_mask: boolean;
  final_ln_after_pool: boolean;
  pool_type: 'first' | 'last' | 'argmax' | 'eos' | 'none';
  proj_bias: boolean;
  proj_type: 'linear' | 'none';
  output_tokens: boolean;
  act_kwargs: Record<string, unknown> | null;
  norm_kwargs: Record<string, unknown> | null;
  block_type: 'default' | 'custom' | null;
  qk_norm: boolean;
  scaled_cosine_attn: boolean;
  scale_heads: boolean;
  scale_attn_inner: boolean;
  scale_attn: boolean;
  scale_fc: boolean;
  hf_model_name: string | null;
  hf_model_pretrained: boolean;
  hf_proj_type: string;
  hf_pooler_type: string;
}

/** CoCa decoder options (`MultimodalCfg`, a `CLIPTextCfg` plus these). */
export interface MultimodalConfig extends TextConfig {
  dim_head: number;
  n_queries: number;
  attn_pooler_heads: number;
}

/** A whole model config, as in OpenCLIP's `model_configs/<name>.json`. */
export interface ModelConfig {
  embed_dim: number;
  vision_cfg: VisionConfig;
  text_cfg: TextConfig;
  multimodal_cfg: MultimodalConfig | null;
  quick_gelu: boolean;
  custom_text: boolean;
  init_logit_scale: number;
  init_logit_bias: number | null;
  nonscalar_logit_scale: boolean;
  /** Preprocessing overrides (mean, std, interpolation, resize_mode, ...), passed to the transforms as is. */
  preprocess_cfg: Record<string, unknown> | null;
}

export class ModelConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelConfigError';
  }
}

type Kind =
  | 'int' | 'posint' | 'number' | 'bool' | 'string' | 'object'
  | 'int|int4' | 'int|int2' | 'int|int2|null' | 'number|null' | 'string|null' | 'object|null' | 'bool|string'
  | { oneOf: readonly (string | null)[] };

interface Field { kind: Kind; def: unknown }

const BLOCK: Record<string, Field> = {
  act_kwargs: { kind: 'object|null', def: null },
  norm_kwargs: { kind: 'object|null', def: null },
  block_type: { kind: { oneOf: ['default', 'custom', null] }, def: null },
  qk_norm: { kind: 'bool', def: false },
  scaled_cosine_attn: { kind: 'bool', def: false },
  scale_heads: { kind: 'bool', def: false },
  scale_attn_inner: { kind: 'bool', def: false },
  scale_attn: { kind: 'bool', def: false },
  scale_fc: { kind: 'bool', def: false },
};

const VISION_FIELDS: Record<string, Field> = {
  layers: { kind: 'int|int4', def: 12 },
  width: { kind: 'posint', def: 768 },
  head_width: { kind: 'posint', def: 64 },
  mlp_ratio: { kind: 'number', def: 4.0 },
  patch_size: { kind: 'int|int2|null', def: 16 },
  image_size: { kind: 'int|int2', def: 224 },
  ls_init_value: { kind: 'number|null', def: null },
  patch_dropout: { kind: 'number', def: 0 },
  attentional_pool: { kind: 'bool|string', def: false },
  attn_pooler_queries: { kind: 'posint', def: 256 },
  attn_pooler_heads: { kind: 'posint', def: 8 },
  no_ln_pre: { kind: 'bool', def: false },
  pos_embed_type: { kind: { oneOf: ['learnable', 'sin_cos_2d'] }, def: 'learnable' },
  final_ln_after_pool: { kind: 'bool', def: false },
  pool_type: { kind: { oneOf: ['tok', 'avg', 'none'] }, def: 'tok' },
  output_tokens: { kind: 'bool', def: false },
  ...BLOCK,
  timm_model_name: { kind: 'string|null', def: null },
  timm_model_pretrained: { kind: 'bool', def: false },
  timm_pool: { kind: 'string|null', def: 'avg' },
  timm_proj: { kind: 'string|null', def: 'linear' },
  timm_proj_bias: { kind: 'bool', def: false },
  timm_drop: { kind: 'number', def: 0 },
  timm_drop_path: { kind: 'number|null', def: null },
};

const TEXT_FIELDS: Record<string, Field> = {
  context_length: { kind: 'posint', def: 77 },
  vocab_size: { kind: 'posint', def: 49408 },
  hf_tokenizer_name: { kind: 'string|null', def: null },
  tokenizer_mode: { kind: 'string|null', def: null },
  tokenizer_kwargs: { kind: 'object|null', def: null },
  width: { kind: 'posint', def: 512 },
  heads: { kind: 'posint', def: 8 },
  layers: { kind: 'int', def: 12 },
  mlp_ratio: { kind: 'number', def: 4.0 },
  ls_init_value: { kind: 'number|null', def: null },
  embed_cls: { kind: 'bool', def: false },
  pad_id: { kind: 'int', def: 0 },
  eos_id: { kind: 'int', def: 2 },
  no_causal_mask: { kind: 'bool', def: false },
  final_ln_after_pool: { kind: 'bool', def: false },
  pool_type: { kind: { oneOf: ['first', 'last', 'argmax', 'eos', 'none'] }, def: 'argmax' },
  proj_bias: { kind: 'bool', def: false },
  proj_type: { kind: { oneOf: ['linear', 'none'] }, def: 'linear' },
  output_tokens: { kind: 'bool', def: false },
  ...BLOCK,
  hf_model_name: { kind: 'string|null', def: null },
  hf_model_pretrained: { kind: 'bool', def: true },
  hf_proj_type: { kind: 'string', def: 'mlp' },
  hf_pooler_type: { kind: 'string', def: 'mean_pooler' },
};

const MULTIMODAL_FIELDS: Record<string, Field> = {
  ...TEXT_FIELDS,
  mlp_ratio: { kind: 'number', def: 4 },
  dim_head: { kind: 'posint', def: 64 },
  heads: { kind: 'posint', def: 8 },
  n_queries: { kind: 'posint', def: 256 },
  attn_pooler_heads: { kind: 'posint', def: 8 },
};

const TOP_FIELDS: Record<string, Field> = {
  embed_dim: { kind: 'posint', def: undefined },
  vision_cfg: { kind: 'object', def: undefined },
  text_cfg: { kind: 'object', def: undefined },
  multimodal_cfg: { kind: 'object|null', def: null },
  quick_gelu: { kind: 'bool', def: false },
  custom_text: { kind: 'bool', def: false },
  init_logit_scale: { kind: 'number', def: Math.log(1 / 0.07) },
  init_logit_bias: { kind: 'number|null', def: null },
  nonscalar_logit_scale: { kind: 'bool', def: false },
  preprocess_cfg: { kind: 'object|null', def: null },
};

/** Names of every key the schema knows, per section (for docs and tooling). */
export const MODEL_CONFIG_KEYS = {
  top: Object.keys(TOP_FIELDS),
  vision_cfg: Object.keys(VISION_FIELDS),
  text_cfg: Object.keys(TEXT_FIELDS),
  multimodal_cfg: Object.keys(MULTIMODAL_FIELDS),
} as const;

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

function checkKind(kind: Kind, v: unknown): boolean {
  if (typeof kind === 'object') return kind.oneOf.includes(v as string | null);
  switch (kind) {
    case 'int': return isInt(v);
    case 'posint': return isInt(v) && v > 0;
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'bool': return typeof v === 'boolean';
    case 'string': return typeof v === 'string';
    case 'object': return v !== null && typeof v === 'object' && !Array.isArray(v);
    case 'int|int4': return (isInt(v) && v >= 0) || (Array.isArray(v) && v.length === 4 && v.every((x) => isInt(x) && x > 0));
    case 'int|int2': return (isInt(v) && v > 0) || (Array.isArray(v) && v.length === 2 && v.every((x) => isInt(x) && x > 0));
    case 'int|int2|null': return v === null || checkKind('int|int2', v);
    case 'number|null': return v === null || checkKind('number', v);
    case 'string|null': return v === null || typeof v === 'string';
    case 'object|null': return v === null || checkKind('object', v);
    case 'bool|string': return typeof v === 'boolean' || v === 'parallel' || v === 'cascade';
  }
}

function describeKind(kind: Kind): string {
  if (typeof kind === 'object') return `one of ${kind.oneOf.map((x) => JSON.stringify(x)).join(', ')}`;
  const names: Record<string, string> = {
    int: 'an integer', posint: 'a positive integer', number: 'a finite number', bool: 'true or false', string: 'a string',
    object: 'an object', 'int|int4': 'an integer (ViT) or a list of 4 integers (ModifiedResNet)',
    'int|int2': 'a positive integer or [height, width]', 'int|int2|null': 'a positive integer, [height, width] or null',
    'number|null': 'a number or null', 'string|null': 'a string or null', 'object|null': 'an object or null',
    'bool|string': "true, false, 'parallel' or 'cascade'",
  };
  return names[kind];
}

function parseSection(raw: unknown, fields: Record<string, Field>, where: string): Record<string, unknown> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ModelConfigError(`${where}: expected an object`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    const f = fields[key];
    if (!f) throw new ModelConfigError(`${where}: unknown key '${key}'${didYouMean(key, Object.keys(fields), 1)}`);
    if (!checkKind(f.kind, value)) {
      throw new ModelConfigError(`${where}.${key}: expected ${describeKind(f.kind)}, got ${JSON.stringify(value)}`);
    }
    out[key] = Array.isArray(value) ? [...value] : value;
  }
  for (const [key, f] of Object.entries(fields)) {
    if (!(key in out)) {
      if (f.def === undefined) throw new ModelConfigError(`${where}: missing required key '${key}'`);
      out[key] = f.def;
    }
  }
  return out;
}

/**
 * Parses a model config (an object as read from OpenCLIP JSON), fills OpenCLIP's dataclass defaults
 * and checks every key and value. `source` names the file or model in error messages.
 */
export function parseModelConfig(raw: unknown, source = 'model config'): ModelConfig {
  const top = parseSection(raw, TOP_FIELDS, source);
  const vision = parseSection(top.vision_cfg, VISION_FIELDS, `${source}: vision_cfg`) as unknown as VisionConfig;
  const text = parseSection(top.text_cfg, TEXT_FIELDS, `${source}: text_cfg`) as unknown as TextConfig;
  const multimodal = top.multimodal_cfg === null
    ? null
    : (parseSection(top.multimodal_cfg, MULTIMODAL_FIELDS, `${source}: multimodal_cfg`) as unknown as MultimodalConfig);
  if (vision.patch_dropout < 0 || vision.patch_dropout >= 1) {
    throw new ModelConfigError(`${source}: vision_cfg.patch_dropout must be in [0, 1), got ${vision.patch_dropout}`);
  }
  checkKwargs(vision, `${source}: vision_cfg`);
  checkKwargs(text, `${source}: text_cfg`);
  return {
    embed_dim: top.embed_dim as number,
    vision_cfg: vision,
    text_cfg: text,
    multimodal_cfg: multimodal,
    quick_gelu: top.quick_gelu as boolean,
    custom_text: top.custom_text as boolean,
    init_logit_scale: top.init_logit_scale as number,
    init_logit_bias: top.init_logit_bias as number | null,
    nonscalar_logit_scale: top.nonscalar_logit_scale as boolean,
    preprocess_cfg: top.preprocess_cfg as Record<string, unknown> | null,
  };
}

/** norm_kwargs may set `eps`; act_kwargs may set GELU's `approximate` ('none' | 'tanh'). */
function checkKwargs(cfg: { norm_kwargs: Record<string, unknown> | null; act_kwargs: Record<string, unknown> | null }, where: string): void {
  for (const [k, v] of Object.entries(cfg.norm_kwargs ?? {})) {
    if (k !== 'eps') throw new ModelConfigError(`${where}.norm_kwargs: unsupported key '${k}' (supported: eps)`);
    if (typeof v !== 'number' || !(v > 0)) throw new ModelConfigError(`${where}.norm_kwargs.eps: expected a positive number, got ${JSON.stringify(v)}`);
  }
  for (const [k, v] of Object.entries(cfg.act_kwargs ?? {})) {
    if (k !== 'approximate') throw new ModelConfigError(`${where}.act_kwargs: unsupported key '${k}' (supported: approximate)`);
    if (v !== 'none' && v !== 'tanh') throw new ModelConfigError(`${where}.act_kwargs.approximate: expected 'none' or 'tanh', got ${JSON.stringify(v)}`);
  }
}

/** The config back in OpenCLIP's JSON form, without keys equal to their defaults (for `open_clip_config.json`). */
export function modelConfigToJson(cfg: ModelConfig): Record<string, unknown> {
  const strip = (obj: Record<string, unknown>, fields: Record<string, Field>, keep: string[] = []) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) {
      if (keep.includes(k) || JSON.stringify(v) !== JSON.stringify(fields[k]?.def)) out[k] = v;
    }
    return out;
  };
  const out: Record<string, unknown> = {
    embed_dim: cfg.embed_dim,
    vision_cfg: strip(cfg.vision_cfg as unknown as Record<string, unknown>, VISION_FIELDS, ['image_size', 'layers', 'width', 'patch_size']),
    text_cfg: strip(cfg.text_cfg as unknown as Record<string, unknown>, TEXT_FIELDS, ['context_length', 'vocab_size', 'width', 'heads', 'layers']),
  };
  if (cfg.multimodal_cfg) out.multimodal_cfg = strip(cfg.multimodal_cfg as unknown as Record<string, unknown>, MULTIMODAL_FIELDS);
  for (const k of ['quick_gelu', 'custom_text', 'init_logit_scale', 'init_logit_bias', 'nonscalar_logit_scale', 'preprocess_cfg'] as const) {
    if (JSON.stringify(cfg[k]) !== JSON.stringify(TOP_FIELDS[k].def)) out[k] = cfg[k];
  }
  return out;
}

/**
 * Why this config cannot be built with native towers, or null when it can: OpenCLIP builds
 * `timm_model_name` vision towers with timm and `hf_model_name` text towers with HF transformers.
 */
export function externalTowerReason(cfg: ModelConfig): string | null {
  if (cfg.vision_cfg.timm_model_name) {
    const reason = timmModelReason(cfg.vision_cfg.timm_model_name);
    if (reason) return `vision_cfg.timm_model_name: ${reason}`;
  }
  if (cfg.text_cfg.hf_model_name) {
    return `text_cfg.hf_model_name '${cfg.text_cfg.hf_model_name}' needs a timm/HF tower (a Hugging Face transformers text model), which openclip-ts does not implement`;
  }
  if (cfg.multimodal_cfg?.hf_model_name) {
    return `multimodal_cfg.hf_model_name '${cfg.multimodal_cfg.hf_model_name}' needs a timm/HF tower, which openclip-ts does not implement`;
  }
  return null;
}

/** Deep copy of a parsed config (configs are plain data). */
export function cloneModelConfig(cfg: ModelConfig): ModelConfig {
  return JSON.parse(JSON.stringify(cfg)) as ModelConfig;
}
