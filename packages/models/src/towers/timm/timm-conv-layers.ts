/**
 * Helpers of timm's ConvNeXt and Swin trunks, run on NHWC activations with parameters in
 * PyTorch's layout: their conv init and NCHW ↔ NHWC conversions. The Conv2d itself is
 * timm-conv.ts' `TimmConv2d` (shared with the hybrid trunks). timm's `LayerNorm2d` (over the
 * channels of an NCHW tensor) is the towers' `LayerNorm` on NHWC activations. DropPath and its
 * per-block rates are in timm-layers.ts.
 */
import { tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import type { InitSpec } from '../../init/initializers.js';
import { TIMM_LINEAR } from './timm-layers.js';

export const nchwToNhwc = (x: Tensor): Tensor => tf.transpose(x, [0, 2, 3, 1]);
export const nhwcToNchw = (x: Tensor): Tensor => tf.transpose(x, [0, 3, 1, 2]);

/** timm's conv init in ConvNeXt and Swin: trunc_normal_(std .02), zero bias — the same as its Linear init. */
export const TIMM_CONV_INIT: { weight: InitSpec; bias: InitSpec } = TIMM_LINEAR;
