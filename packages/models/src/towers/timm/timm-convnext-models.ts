/**
 * The ConvNeXt architectures OpenCLIP 3.1.0 configs name (`convnext_*` in timm 1.0.28's
 * registrations): stage depths and widths, and the xxlarge's LayerNorm eps.
 */
import type { ConvNextArgs } from './timm-convnext.js';

const convnext = (depths: number[], dims: number[], extra: Partial<ConvNextArgs> = {}): { family: 'convnext'; args: ConvNextArgs } => ({
  family: 'convnext',
  args: { depths, dims, ...extra },
});

export const CONVNEXT_MODELS = {
  convnext_tiny: convnext([3, 3, 9, 3], [96, 192, 384, 768]),
  convnext_small: convnext([3, 3, 27, 3], [96, 192, 384, 768]),
  convnext_base: convnext([3, 3, 27, 3], [128, 256, 512, 1024]),
  convnext_large: convnext([3, 3, 27, 3], [192, 384, 768, 1536]),
  convnext_xlarge: convnext([3, 3, 27, 3], [256, 512, 1024, 2048]),
  convnext_xxlarge: convnext([3, 4, 30, 3], [384, 768, 1536, 3072], { norm_eps: 1e-5 }),
};
