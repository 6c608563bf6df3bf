/**
 * The timm models OpenCLIP 3.1.0 configs name in `vision_cfg.timm_model_name` that this port
 * builds, as timm's constructor keyword arguments (facts of timm 1.0.28's model registrations and
 * their pretrained input sizes). More architectures can be registered with `registerTimmModel`
 * (the fixture generator's tiny variants are, by the tests).
 */

import { CONVNEXT_MODELS } from './timm-convnext-models.js';
import type { ConvNextArgs } from './timm-convnext.js';
import type { ConvStemCfg } from './timm-convstem.js';
import type { FastVitArgs } from './timm-fastvit.js';
import { FASTVIT_MODELS, MCI_VIT_MODELS, VITAMIN_MODELS } from './timm-hybrid-models.js';
import { SWIN_MODELS } from './timm-swin-models.js';
import type { SwinArgs } from './timm-swin.js';
import type { VitaminEmbedCfg } from './timm-vitamin.js';

/**
 * The timm class an architecture is built with (vitamin: VisionTransformer with ViTamin's conv
 * backbone as patch embedding; fastvit, convnext, swin: their own classes and arguments).
 */
export type TimmFamily = TimmModelSpec['family'];
const FAMILIES: readonly TimmFamily[] = ['vit', 'eva', 'vit_relpos', 'vitamin', 'fastvit', 'convnext', 'swin'];

/** timm keyword arguments (snake_case, timm's names) of VisionTransformer and Eva that this port reads. */
export interface TimmArgs {
  img_size?: number | [number, number];
  patch_size: number;
  embed_dim: number;
  depth: number;
  num_heads: number;
  mlp_ratio?: number;
  qkv_bias?: boolean;
  qk_norm?: boolean;
  init_values?: number | null;
  class_token?: boolean;
  no_embed_class?: boolean;
  reg_tokens?: number;
  pre_norm?: boolean;
  final_norm?: boolean;
  fc_norm?: boolean | null;
  global_pool?: string;
  act_layer?: string;
  /** 'learn' (default) or 'none' (no pos_embed parameter). */
  pos_embed?: 'learn' | 'none';
  /** timm `mlp_layer`: Mlp ('mlp', default) or ViTamin's GeGluMlp ('geglu'). */
  mlp_layer?: 'mlp' | 'geglu';
  /** ViTamin: the conv backbone of the hybrid patch embedding (timm's `VitCfg`). */
  embed_cfg?: VitaminEmbedCfg;
  /** Hybrid ViT with timm's `ConvStem` as patch embedding backbone (HybridEmbed without proj). */
  conv_stem?: ConvStemCfg;
  /** LayerNorm eps (timm's `norm_layer=partial(LayerNorm, eps=...)`). */
  norm_eps?: number;
  // Eva-only options
  qkv_fused?: boolean;
  swiglu_mlp?: boolean;
  scale_mlp?: boolean;
  scale_attn_inner?: boolean;
  use_rot_pos_emb?: boolean;
  ref_feat_shape?: [number, number] | number | null;
  rope_grid_offset?: number;
  rope_grid_indexing?: 'ij' | 'xy';
  attn_type?: string;
  use_abs_pos_emb?: boolean;
  use_pre_transformer_norm?: boolean;
  use_post_transformer_norm?: boolean | null;
  use_fc_norm?: boolean | null;
  use_post_norm?: boolean;
  attn_pool_num_heads?: number | null;
  attn_pool_mlp_ratio?: number | null;
  // VisionTransformerRelPos-only
  rel_pos_dim?: number;
}

export type TimmModelSpec =
  | { family: 'vit' | 'eva' | 'vit_relpos' | 'vitamin'; args: TimmArgs }
  | { family: 'fastvit'; args: FastVitArgs }
  | { family: 'convnext'; args: ConvNextArgs }
  | { family: 'swin'; args: SwinArgs };

const siglip = (patch: number, size: number, dim: number, depth: number, extra: Partial<TimmArgs> = {}): TimmModelSpec => ({
  family: 'vit',
  args: { img_size: size, patch_size: patch, embed_dim: dim, depth, num_heads: dim === 768 ? 12 : 16, class_token: false, global_pool: 'map', ...extra },
});
const so400m = { mlp_ratio: 3.7362 };
const tanh = { act_layer: 'gelu_tanh' };

const evaClip = (patch: number, size: number, dim: number, depth: number, heads: number): TimmModelSpec => ({
  family: 'eva',
  args: {
    img_size: size, patch_size: patch, embed_dim: dim, depth, num_heads: heads, mlp_ratio: (4 * 2) / 3, qkv_fused: false,
    swiglu_mlp: true, scale_mlp: true, scale_attn_inner: true, use_rot_pos_emb: true, ref_feat_shape: [16, 16], global_pool: 'token',
  },
});
const peCore = (patch: number, size: number, dim: number, depth: number, heads: number, ref: number, extra: Partial<TimmArgs> = {}): TimmModelSpec => ({
  family: 'eva',
  args: {
    img_size: size, patch_size: patch, embed_dim: dim, depth, num_heads: heads, mlp_ratio: 4, global_pool: 'map', attn_type: 'rope',
    use_pre_transformer_norm: true, use_rot_pos_emb: true, ref_feat_shape: [ref, ref], rope_grid_offset: 1, rope_grid_indexing: 'xy',
    attn_pool_num_heads: 8, attn_pool_mlp_ratio: 4, norm_eps: 1e-5, ...extra,
  },
});

const BUILTIN: Record<string, TimmModelSpec> = {
  vit_base_patch16_siglip_224: siglip(16, 224, 768, 12),
  vit_base_patch16_siglip_256: siglip(16, 256, 768, 12),
  vit_base_patch16_siglip_384: siglip(16, 384, 768, 12),
  vit_base_patch16_siglip_512: siglip(16, 512, 768, 12),
  vit_base_patch32_siglip_256: siglip(32, 256, 768, 12, tanh),
  vit_large_patch16_siglip_256: siglip(16, 256, 1024, 24),
  vit_large_patch16_siglip_384: siglip(16, 384, 1024, 24),
  vit_large_patch16_siglip_512: siglip(16, 512, 1024, 24, tanh),
  vit_so400m_patch14_siglip_224: siglip(14, 224, 1152, 27, so400m),
  vit_so400m_patch14_siglip_378: siglip(14, 378, 1152, 27, so400m),
  vit_so400m_patch14_siglip_384: siglip(14, 384, 1152, 27, so400m),
  vit_so400m_patch16_siglip_256: siglip(16, 256, 1152, 27, { ...so400m, ...tanh }),
  vit_so400m_patch16_siglip_384: siglip(16, 384, 1152, 27, { ...so400m, ...tanh }),
  vit_so400m_patch16_siglip_512: siglip(16, 512, 1152, 27, { ...so400m, ...tanh }),
  vit_giantopt_patch16_siglip_256: siglip(16, 256, 1536, 40, tanh),
  vit_giantopt_patch16_siglip_384: siglip(16, 384, 1536, 40, tanh),
  vit_medium_patch16_gap_256: {
    family: 'vit',
    args: { img_size: 256, patch_size: 16, embed_dim: 512, depth: 12, num_heads: 8, class_token: false, global_pool: 'avg', qkv_bias: false, init_values: 1e-6, fc_norm: false },
  },
  eva_giant_patch14_224: { family: 'eva', args: { img_size: 224, patch_size: 14, embed_dim: 1408, depth: 40, num_heads: 16, mlp_ratio: 6144 / 1408 } },
  eva02_base_patch16_clip_224: evaClip(16, 224, 768, 12, 12),
  eva02_enormous_patch14_clip_224: {
    family: 'eva',
    args: { img_size: 224, patch_size: 14, embed_dim: 1792, depth: 64, num_heads: 16, mlp_ratio: 15360 / 1792, use_post_norm: true, global_pool: 'token' },
  },
  eva02_large_patch14_clip_224: evaClip(14, 224, 1024, 24, 16),
  eva02_large_patch14_clip_336: evaClip(14, 336, 1024, 24, 16),
  vit_relpos_medium_patch16_cls_224: {
    family: 'vit_relpos',
    args: { img_size: 224, patch_size: 16, embed_dim: 512, depth: 12, num_heads: 8, qkv_bias: false, fc_norm: false, rel_pos_dim: 256, class_token: true, global_pool: 'token' },
  },
  vit_pe_core_tiny_patch16_384: peCore(16, 384, 192, 12, 3, 24),
  vit_pe_core_small_patch16_384: peCore(16, 384, 384, 12, 6, 24),
  vit_pe_core_base_patch16_224: peCore(16, 224, 768, 12, 12, 14),
  vit_pe_core_large_patch14_336: peCore(14, 336, 1024, 24, 16, 24),
  vit_pe_core_gigantic_patch14_448: peCore(14, 448, 1536, 50, 16, 32, { mlp_ratio: 8960 / 1536, class_token: false, rope_grid_offset: 0 }),
  ...VITAMIN_MODELS,
  ...FASTVIT_MODELS,
  ...MCI_VIT_MODELS,
  ...CONVNEXT_MODELS,
  ...SWIN_MODELS,
};

/** Names of timm towers this port knows but cannot build, with the reason (none at present). */
const UNSUPPORTED: Record<string, string> = {};

const registry = new Map<string, TimmModelSpec>(Object.entries(BUILTIN));

export class UnknownTimmModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnknownTimmModelError';
  }
}

/** Adds (or replaces) a timm architecture under `name`. */
export function registerTimmModel(name: string, spec: TimmModelSpec): void {
  if (!FAMILIES.includes(spec.family)) throw new Error(`timm model '${name}': unknown family '${String(spec.family)}' (${FAMILIES.join(', ')})`);
  registry.set(name, { ...spec, args: { ...spec.args } } as TimmModelSpec);
}

export function listTimmModels(): string[] {
  return [...registry.keys()].sort();
}

/** Whether `name` is a timm model this port builds. */
export function hasTimmModel(name: string): boolean {
  return timmModelReason(name) === null;
}

/** Why a timm name cannot be built here, or null when it can. */
export function timmModelReason(name: string): string | null {
  if (name in UNSUPPORTED) return `timm model '${name}': ${UNSUPPORTED[name]}`;
  if (registry.has(name)) return null;
  return `unknown timm model '${name}'; supported timm towers: ${listTimmModels().filter((n) => !(n in UNSUPPORTED)).join(', ')}`;
}

export function timmModelSpec(name: string): TimmModelSpec {
  const reason = timmModelReason(name);
  if (reason) throw new UnknownTimmModelError(reason);
  const s = registry.get(name)!;
  return { ...s, args: { ...s.args } } as TimmModelSpec;
}
