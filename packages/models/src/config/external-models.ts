/**
 * Names of OpenCLIP model configs whose towers come from timm or Hugging Face transformers that
 * this port does not build (ConvNeXt, Swin, HF text towers; the timm VisionTransformer-family,
 * ViTamin and MobileCLIP configs — SigLIP/SigLIP2, EVA01/EVA02, PE-Core, vit_medium, vit_relpos,
 * ViTamin-*, MobileCLIP-S1/S2/B — are built-in configs). They are recognised so that asking for
 * one gives "needs a timm/HF tower" instead of "unknown model".
 */
export const EXTERNAL_TOWER_MODELS: readonly string[] = [
  'convnext_base', 'convnext_base_w', 'convnext_base_w_320', 'convnext_large', 'convnext_large_d', 'convnext_large_d_320',
  'convnext_small', 'convnext_tiny', 'convnext_xlarge', 'convnext_xxlarge', 'convnext_xxlarge_320',
  'coca_roberta-ViT-B-32', 'mt5-base-ViT-B-32', 'mt5-xl-ViT-H-14', 'nllb-clip-base', 'nllb-clip-base-siglip',
  'nllb-clip-large', 'nllb-clip-large-siglip', 'roberta-ViT-B-32', 'xlm-roberta-base-ViT-B-32', 'xlm-roberta-large-ViT-H-14',
  'swin_base_patch4_window7_224',
];
