import { timmRealsizeTest } from '../../../test-support/timm-realsize.js';

// Real-size timm towers of every family against upstream with random weights (test-support/timm-realsize.ts):
// transformers (SigLIP, SigLIP2, EVA02, PE-Core), ConvNeXt, Swin, ViTamin and MobileCLIP's FastViT.
const DEFAULT_MODELS = 'ViT-B-16-SigLIP,ViT-B-16-SigLIP2,EVA02-B-16,PE-Core-B-16,convnext_base,swin_base_patch4_window7_224,ViTamin-S,MobileCLIP-S1';
timmRealsizeTest((process.env.OPENCLIP_TIMM_REALSIZE_MODELS ?? DEFAULT_MODELS).split(','));
