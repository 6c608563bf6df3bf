/**
 * The timm names of the hybrid/convolutional towers of OpenCLIP 3.1.0's ViTamin and MobileCLIP
 * configs, as TypeScript registry specs (facts of timm 1.0.28's registrations in vitamin.py,
 * fastvit.py and vision_transformer_hybrid.py). Data only: the config registry reads it without
 * loading TensorFlow.js.
 */
import type { FastVitArgs } from './timm-fastvit.js';
import type { TimmModelSpec } from './timm-registry.js';

const vitamin = (stages: [number, number], dim: number, depth: number, heads: number, size: number, extra: { pos_embed?: 'none' } = {}): TimmModelSpec => ({
  family: 'vitamin',
  args: {
    img_size: size, patch_size: 1, embed_dim: dim, depth, num_heads: heads, mlp_ratio: 2, mlp_layer: 'geglu', class_token: false, global_pool: 'avg',
    embed_cfg: { embed_dim: [stages[0], stages[1], dim], depths: [2, 4, 1], stem_width: stages[0] }, ...extra,
  },
});

/** timm 1.0.28's `vitamin_*` registrations (vitamin.py): stage widths, transformer width/depth/heads, input size. */
export const VITAMIN_MODELS: Record<string, TimmModelSpec> = {
  vitamin_small_224: vitamin([64, 128], 384, 14, 6, 224),
  vitamin_base_224: vitamin([128, 256], 768, 14, 12, 224),
  vitamin_large_224: vitamin([160, 320], 1024, 31, 16, 224),
  vitamin_large_256: vitamin([160, 320], 1024, 31, 16, 256),
  vitamin_large_336: vitamin([160, 320], 1024, 31, 16, 336),
  vitamin_large_384: vitamin([160, 320], 1024, 31, 16, 384),
  vitamin_large2_224: vitamin([160, 320], 1024, 31, 16, 224),
  vitamin_large2_256: vitamin([160, 320], 1024, 31, 16, 256),
  vitamin_large2_336: vitamin([160, 320], 1024, 31, 16, 336),
  vitamin_large2_384: vitamin([160, 320], 1024, 31, 16, 384),
  vitamin_xlarge_256: vitamin([192, 384], 1152, 32, 16, 256, { pos_embed: 'none' }),
  vitamin_xlarge_336: vitamin([192, 384], 1152, 32, 16, 336, { pos_embed: 'none' }),
  vitamin_xlarge_384: vitamin([192, 384], 1152, 32, 16, 384, { pos_embed: 'none' }),
};

const mci = (layers: number[], dims: number[]): { family: 'fastvit'; args: FastVitArgs } => ({
  family: 'fastvit',
  args: {
    layers, embed_dims: dims, mlp_ratios: [3, 3, 3, 3], se_downsamples: [false, false, true, true], pos_embs: [null, null, null, 7],
    token_mixers: ['repmixer', 'repmixer', 'repmixer', 'attention'], lkc_use_act: true,
  },
});

/** timm 1.0.28's MobileCLIP image towers `fastvit_mci0/1/2` (fastvit.py registrations). */
export const FASTVIT_MODELS = {
  fastvit_mci0: mci([2, 6, 10, 2], [64, 128, 256, 512]),
  fastvit_mci1: mci([4, 12, 20, 4], [64, 128, 256, 512]),
  fastvit_mci2: mci([4, 12, 24, 4], [80, 160, 320, 640]),
};

/** MobileCLIP-B's `vit_base_mci_224`: ViT-B/16 on a ConvStem (4×4/4, 2×2/2, 2×2/2; no padding), pos_embed without the class token. */
export const MCI_VIT_MODELS: Record<string, TimmModelSpec> = {
  vit_base_mci_224: {
    family: 'vit',
    args: {
      img_size: 224, patch_size: 1, embed_dim: 768, depth: 12, num_heads: 12, no_embed_class: true,
      conv_stem: { channels: [192, 192, 768], kernel_size: [4, 2, 2], stride: [4, 2, 2], padding: 0 },
    },
  },
};
