/** The Swin Transformer OpenCLIP 3.1.0 configs name (timm 1.0.28's registration; 224² input, strict). */
import type { SwinArgs } from './timm-swin.js';

export const SWIN_MODELS: Record<string, { family: 'swin'; args: SwinArgs }> = {
  swin_base_patch4_window7_224: {
    family: 'swin',
    args: { img_size: 224, patch_size: 4, window_size: 7, embed_dim: 128, depths: [2, 2, 18, 2], num_heads: [4, 8, 16, 32] },
  },
};
