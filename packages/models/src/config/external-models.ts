/**
 * Names of OpenCLIP model configs whose towers come from timm or Hugging Face transformers that
 * this port does not build (HF text towers; the timm configs — SigLIP/SigLIP2, EVA01/EVA02,
 * PE-Core, vit_medium, vit_relpos, ConvNeXt, Swin, ViTamin-*, MobileCLIP-S1/S2/B — are built-in
 * configs). They are recognised so that asking for one gives "needs a timm/HF tower" instead of
 * "unknown model".
 */
export const EXTERNAL_TOWER_MODELS: readonly string[] = [
  'coca_roberta-ViT-B-32', 'mt5-base-ViT-B-32', 'mt5-xl-ViT-H-14', 'nllb-clip-base', 'nllb-clip-base-siglip',
  'nllb-clip-large', 'nllb-clip-large-siglip', 'roberta-ViT-B-32', 'xlm-roberta-base-ViT-B-32', 'xlm-roberta-large-ViT-H-14',
];
