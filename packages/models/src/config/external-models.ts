/**
 * Names of OpenCLIP model configs whose towers come from timm or Hugging Face transformers that
 * this port does not build (ViTamin, MobileCLIP, HF text towers; the timm
 * VisionTransformer-family configs — SigLIP/SigLIP2, EVA01/EVA02, PE-Core, vit_medium,
 * vit_relpos — ConvNeXt and Swin are built-in configs). They are recognised so that asking for one gives "needs a
 * timm/HF tower" instead of "unknown model".
 */
export const EXTERNAL_TOWER_MODELS: readonly string[] = [
  'MobileCLIP-B', 'MobileCLIP-S1', 'MobileCLIP-S2',
  'ViTamin-B', 'ViTamin-B-LTT', 'ViTamin-L', 'ViTamin-L-256', 'ViTamin-L-336', 'ViTamin-L-384', 'ViTamin-L2',
  'ViTamin-L2-256', 'ViTamin-L2-336', 'ViTamin-L2-384', 'ViTamin-S', 'ViTamin-S-LTT', 'ViTamin-XL-256',
  'ViTamin-XL-336', 'ViTamin-XL-384',
  'coca_roberta-ViT-B-32', 'mt5-base-ViT-B-32', 'mt5-xl-ViT-H-14', 'nllb-clip-base', 'nllb-clip-base-siglip',
  'nllb-clip-large', 'nllb-clip-large-siglip', 'roberta-ViT-B-32', 'xlm-roberta-base-ViT-B-32', 'xlm-roberta-large-ViT-H-14',
];
