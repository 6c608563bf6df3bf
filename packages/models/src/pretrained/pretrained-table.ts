/**
 * The pretrained-weights table of OpenCLIP 3.1.0 (`src/open_clip/pretrained.py`, `_PRETRAINED`):
 * every (model, tag) pair with its Hugging Face Hub location and preprocessing. Helper defaults
 * mirror `_pcfg` (OpenAI mean/std, bicubic, shortest), `_slpcfg` (SigLIP: 0.5, bicubic, squash),
 * `_apcfg` (CLIPA: ImageNet, bilinear, squash), `_mccfg` (MobileCLIP: 0/1, bilinear, shortest) and
 * `_pecfg` (PE: 0.5, bilinear, squash). Tags flagged `quick_gelu` are duplicated under
 * `<model>-quickgelu`, as OpenCLIP does at import time (see pretrained.ts).
 */
import type { ResizeMode } from '@openclip/data';
import { IMAGENET_MEAN, IMAGENET_STD, INCEPTION_MEAN, INCEPTION_STD, OPENAI_DATASET_MEAN, OPENAI_DATASET_STD } from '@openclip/common';

export type Interpolation = 'bicubic' | 'bilinear';

export interface PretrainedEntry {
  /** `org/repo/` (trailing slash: the default file) or `org/repo/filename`. */
  hf_hub: string;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  interpolation: Interpolation;
  resize_mode: ResizeMode;
  quick_gelu?: boolean;
}


type Extra = Partial<Omit<PretrainedEntry, 'hf_hub'>>;

const pcfg = (hf_hub: string, x: Extra = {}): PretrainedEntry => ({
  hf_hub, mean: OPENAI_DATASET_MEAN, std: OPENAI_DATASET_STD, interpolation: 'bicubic', resize_mode: 'shortest', ...x,
});
const slpcfg = (hf_hub: string, x: Extra = {}): PretrainedEntry => ({
  hf_hub, mean: INCEPTION_MEAN, std: INCEPTION_STD, interpolation: 'bicubic', resize_mode: 'squash', ...x,
});
const apcfg = (hf_hub: string, x: Extra = {}): PretrainedEntry => ({
  hf_hub, mean: IMAGENET_MEAN, std: IMAGENET_STD, interpolation: 'bilinear', resize_mode: 'squash', ...x,
});
const mccfg = (hf_hub: string, x: Extra = {}): PretrainedEntry => ({
  hf_hub, mean: [0, 0, 0], std: [1, 1, 1], interpolation: 'bilinear', resize_mode: 'shortest', ...x,
});
const pecfg = (hf_hub: string, x: Extra = {}): PretrainedEntry => ({
  hf_hub, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], interpolation: 'bilinear', resize_mode: 'squash', ...x,
});
const QG = { quick_gelu: true } as const;

const datacompB32: Record<string, PretrainedEntry> = {
  datacomp_xl_s13b_b90k: pcfg('laion/CLIP-ViT-B-32-DataComp.XL-s13B-b90K/'),
  datacomp_m_s128m_b4k: pcfg('laion/CLIP-ViT-B-32-DataComp.M-s128M-b4K/'),
  commonpool_m_clip_s128m_b4k: pcfg('laion/CLIP-ViT-B-32-CommonPool.M.clip-s128M-b4K/'),
  commonpool_m_laion_s128m_b4k: pcfg('laion/CLIP-ViT-B-32-CommonPool.M.laion-s128M-b4K/'),
  commonpool_m_image_s128m_b4k: pcfg('laion/CLIP-ViT-B-32-CommonPool.M.image-s128M-b4K/'),
  commonpool_m_text_s128m_b4k: pcfg('laion/CLIP-ViT-B-32-CommonPool.M.text-s128M-b4K/'),
  commonpool_m_basic_s128m_b4k: pcfg('laion/CLIP-ViT-B-32-CommonPool.M.basic-s128M-b4K/'),
  commonpool_m_s128m_b4k: pcfg('laion/CLIP-ViT-B-32-CommonPool.M-s128M-b4K/'),
  datacomp_s_s13m_b4k: pcfg('laion/CLIP-ViT-B-32-DataComp.S-s13M-b4K/'),
  commonpool_s_clip_s13m_b4k: pcfg('laion/CLIP-ViT-B-32-CommonPool.S.clip-s13M-b4K/'),
  commonpool_s_laion_s13m_b4k: pcfg('laion/CLIP-ViT-B-32-CommonPool.S.laion-s13M-b4K/'),
  commonpool_s_image_s13m_b4k: pcfg('laion/CLIP-ViT-B-32-CommonPool.S.image-s13M-b4K/'),
  commonpool_s_text_s13m_b4k: pcfg('laion/CLIP-ViT-B-32-CommonPool.S.text-s13M-b4K/'),
  commonpool_s_basic_s13m_b4k: pcfg('laion/CLIP-ViT-B-32-CommonPool.S.basic-s13M-b4K/'),
  commonpool_s_s13m_b4k: pcfg('laion/CLIP-ViT-B-32-CommonPool.S-s13M-b4K/'),
};

const datacompB16: Record<string, PretrainedEntry> = {
  datacomp_xl_s13b_b90k: pcfg('laion/CLIP-ViT-B-16-DataComp.XL-s13B-b90K/'),
  datacomp_l_s1b_b8k: pcfg('laion/CLIP-ViT-B-16-DataComp.L-s1B-b8K/'),
  commonpool_l_clip_s1b_b8k: pcfg('laion/CLIP-ViT-B-16-CommonPool.L.clip-s1B-b8K/'),
  commonpool_l_laion_s1b_b8k: pcfg('laion/CLIP-ViT-B-16-CommonPool.L.laion-s1B-b8K/'),
  commonpool_l_image_s1b_b8k: pcfg('laion/CLIP-ViT-B-16-CommonPool.L.image-s1B-b8K/'),
  commonpool_l_text_s1b_b8k: pcfg('laion/CLIP-ViT-B-16-CommonPool.L.text-s1B-b8K/'),
  commonpool_l_basic_s1b_b8k: pcfg('laion/CLIP-ViT-B-16-CommonPool.L.basic-s1B-b8K/'),
  commonpool_l_s1b_b8k: pcfg('laion/CLIP-ViT-B-16-CommonPool.L-s1B-b8K/'),
};

const siglip = (name: string) => ({ webli: slpcfg(`timm/${name}/`) });
const vitamin = (repo: string) => ({ datacomp1b: pcfg(`jienengchen/${repo}/pytorch_model.bin`) });

/** `_PRETRAINED` before the quickgelu aliases are added, in OpenCLIP's order. */
export const PRETRAINED_TABLE: Record<string, Record<string, PretrainedEntry>> = {
  RN50: {
    openai: pcfg('timm/resnet50_clip.openai/', QG),
    yfcc15m: pcfg('timm/resnet50_clip.yfcc15m/', QG),
    cc12m: pcfg('timm/resnet50_clip.cc12m/', QG),
  },
  RN101: {
    openai: pcfg('timm/resnet101_clip.openai/', QG),
    yfcc15m: pcfg('timm/resnet101_clip.yfcc15m/', QG),
  },
  RN50x4: { openai: pcfg('timm/resnet50x4_clip.openai/', QG) },
  RN50x16: { openai: pcfg('timm/resnet50x16_clip.openai/', QG) },
  RN50x64: { openai: pcfg('timm/resnet50x64_clip.openai/', QG) },

  'ViT-B-32': {
    openai: pcfg('timm/vit_base_patch32_clip_224.openai/', QG),
    laion400m_e31: pcfg('timm/vit_base_patch32_clip_224.laion400m_e31/', QG),
    laion400m_e32: pcfg('timm/vit_base_patch32_clip_224.laion400m_e32/', QG),
    laion2b_e16: pcfg('timm/vit_base_patch32_clip_224.laion2b_e16/'),
    laion2b_s34b_b79k: pcfg('laion/CLIP-ViT-B-32-laion2B-s34B-b79K/'),
    ...datacompB32,
    metaclip_400m: pcfg('timm/vit_base_patch32_clip_224.metaclip_400m/', QG),
    metaclip_fullcc: pcfg('timm/vit_base_patch32_clip_224.metaclip_2pt5b/', QG),
  },
  'ViT-B-32-256': { datacomp_s34b_b86k: pcfg('laion/CLIP-ViT-B-32-256x256-DataComp-s34B-b86K/') },
  'ViT-B-16': {
    openai: pcfg('timm/vit_base_patch16_clip_224.openai/', QG),
    laion400m_e31: pcfg('timm/vit_base_patch16_clip_224.laion400m_e31/'),
    laion400m_e32: pcfg('timm/vit_base_patch16_clip_224.laion400m_e32/'),
    laion2b_s34b_b88k: pcfg('laion/CLIP-ViT-B-16-laion2B-s34B-b88K/'),
    ...datacompB16,
    dfn2b: pcfg('apple/DFN2B-CLIP-ViT-B-16/', QG),
    metaclip_400m: pcfg('timm/vit_base_patch16_clip_224.metaclip_400m/', QG),
    metaclip_fullcc: pcfg('timm/vit_base_patch16_clip_224.metaclip_2pt5b/', QG),
  },
  'ViT-B-16-plus-240': {
    laion400m_e31: pcfg('timm/vit_base_patch16_plus_clip_240.laion400m_e31/'),
    // OpenCLIP 3.1.0 points this tag at the e31 repository (its own entry, kept as is).
    laion400m_e32: pcfg('timm/vit_base_patch16_plus_clip_240.laion400m_e31/'),
  },
  'ViT-L-14': {
    openai: pcfg('timm/vit_large_patch14_clip_224.openai/', QG),
    laion400m_e31: pcfg('timm/vit_large_patch14_clip_224.laion400m_e31/'),
    laion400m_e32: pcfg('timm/vit_large_patch14_clip_224.laion400m_e32/'),
    laion2b_s32b_b82k: pcfg('laion/CLIP-ViT-L-14-laion2B-s32B-b82K/', { mean: INCEPTION_MEAN, std: INCEPTION_STD }),
    datacomp_xl_s13b_b90k: pcfg('laion/CLIP-ViT-L-14-DataComp.XL-s13B-b90K/'),
    commonpool_xl_clip_s13b_b90k: pcfg('laion/CLIP-ViT-L-14-CommonPool.XL.clip-s13B-b90K/'),
    commonpool_xl_laion_s13b_b90k: pcfg('laion/CLIP-ViT-L-14-CommonPool.XL.laion-s13B-b90K/'),
    commonpool_xl_s13b_b90k: pcfg('laion/CLIP-ViT-L-14-CommonPool.XL-s13B-b90K/'),
    metaclip_400m: pcfg('timm/vit_large_patch14_clip_224.metaclip_400m/', QG),
    metaclip_fullcc: pcfg('timm/vit_large_patch14_clip_224.metaclip_2pt5b/', QG),
    dfn2b: pcfg('apple/DFN2B-CLIP-ViT-L-14/', QG),
    dfn2b_s39b: pcfg('apple/DFN2B-CLIP-ViT-L-14-39B/'),
  },
  'ViT-L-14-336': { openai: pcfg('timm/vit_large_patch14_clip_336.openai/', QG) },
  'ViT-H-14': {
    laion2b_s32b_b79k: pcfg('laion/CLIP-ViT-H-14-laion2B-s32B-b79K/'),
    metaclip_fullcc: pcfg('timm/vit_huge_patch14_clip_224.metaclip_2pt5b/', QG),
    metaclip_altogether: pcfg('timm/vit_huge_patch14_clip_224.metaclip_altogether/'),
    dfn5b: pcfg('apple/DFN5B-CLIP-ViT-H-14/', { ...QG, interpolation: 'bicubic', resize_mode: 'squash' }),
  },
  'ViT-H-14-378': {
    dfn5b: pcfg('apple/DFN5B-CLIP-ViT-H-14-378/', { ...QG, interpolation: 'bicubic', resize_mode: 'squash' }),
  },
  'ViT-g-14': {
    laion2b_s12b_b42k: pcfg('laion/CLIP-ViT-g-14-laion2B-s12B-b42K/'),
    laion2b_s34b_b88k: pcfg('laion/CLIP-ViT-g-14-laion2B-s34B-b88K/'),
  },
  'ViT-bigG-14': {
    laion2b_s39b_b160k: pcfg('laion/CLIP-ViT-bigG-14-laion2B-39B-b160k/'),
    metaclip_fullcc: pcfg('timm/vit_gigantic_patch14_clip_224.metaclip_2pt5b/', QG),
  },
  'roberta-ViT-B-32': { laion2b_s12b_b32k: pcfg('laion/CLIP-ViT-B-32-roberta-base-laion2B-s12B-b32k/') },
  'xlm-roberta-base-ViT-B-32': { laion5b_s13b_b90k: pcfg('laion/CLIP-ViT-B-32-xlm-roberta-base-laion5B-s13B-b90k/') },
  'xlm-roberta-large-ViT-H-14': { frozen_laion5b_s13b_b90k: pcfg('laion/CLIP-ViT-H-14-frozen-xlm-roberta-large-laion5B-s13B-b90k/') },

  convnext_base: { laion400m_s13b_b51k: pcfg('laion/CLIP-convnext_base-laion400M-s13B-b51K/') },
  convnext_base_w: {
    laion2b_s13b_b82k: pcfg('laion/CLIP-convnext_base_w-laion2B-s13B-b82K/'),
    laion2b_s13b_b82k_augreg: pcfg('laion/CLIP-convnext_base_w-laion2B-s13B-b82K-augreg/'),
    laion_aesthetic_s13b_b82k: pcfg('laion/CLIP-convnext_base_w-laion_aesthetic-s13B-b82K/'),
  },
  convnext_base_w_320: {
    laion_aesthetic_s13b_b82k: pcfg('laion/CLIP-convnext_base_w_320-laion_aesthetic-s13B-b82K/'),
    laion_aesthetic_s13b_b82k_augreg: pcfg('laion/CLIP-convnext_base_w_320-laion_aesthetic-s13B-b82K-augreg/'),
  },
  convnext_large_d: { laion2b_s26b_b102k_augreg: pcfg('laion/CLIP-convnext_large_d.laion2B-s26B-b102K-augreg/') },
  convnext_large_d_320: {
    laion2b_s29b_b131k_ft: pcfg('laion/CLIP-convnext_large_d_320.laion2B-s29B-b131K-ft/'),
    laion2b_s29b_b131k_ft_soup: pcfg('laion/CLIP-convnext_large_d_320.laion2B-s29B-b131K-ft-soup/'),
  },
  convnext_xxlarge: {
    laion2b_s34b_b82k_augreg: pcfg('laion/CLIP-convnext_xxlarge-laion2B-s34B-b82K-augreg/'),
    laion2b_s34b_b82k_augreg_rewind: pcfg('laion/CLIP-convnext_xxlarge-laion2B-s34B-b82K-augreg-rewind/'),
    laion2b_s34b_b82k_augreg_soup: pcfg('laion/CLIP-convnext_xxlarge-laion2B-s34B-b82K-augreg-soup/'),
  },

  'coca_ViT-B-32': {
    laion2b_s13b_b90k: pcfg('laion/CoCa-ViT-B-32-laion2B-s13B-b90k/'),
    mscoco_finetuned_laion2b_s13b_b90k: pcfg('laion/mscoco_finetuned_CoCa-ViT-B-32-laion2B-s13B-b90k/'),
  },
  'coca_ViT-L-14': {
    laion2b_s13b_b90k: pcfg('laion/CoCa-ViT-L-14-laion2B-s13B-b90k/'),
    mscoco_finetuned_laion2b_s13b_b90k: pcfg('laion/mscoco_finetuned_CoCa-ViT-L-14-laion2B-s13B-b90k/'),
  },

  'EVA01-g-14': { laion400m_s11b_b41k: pcfg('timm/eva_giant_patch14_clip_224.laion400m_s11b_b41k/') },
  'EVA01-g-14-plus': { merged2b_s11b_b114k: pcfg('timm/eva_giant_patch14_plus_clip_224.merged2b_s11b_b114k/') },
  'EVA02-B-16': { merged2b_s8b_b131k: pcfg('timm/eva02_base_patch16_clip_224.merged2b_s8b_b131k/') },
  'EVA02-L-14': { merged2b_s4b_b131k: pcfg('timm/eva02_large_patch14_clip_224.merged2b_s4b_b131k/') },
  'EVA02-L-14-336': { merged2b_s6b_b61k: pcfg('timm/eva02_large_patch14_clip_336.merged2b_s6b_b61k/') },
  'EVA02-E-14': { laion2b_s4b_b115k: pcfg('timm/eva02_enormous_patch14_clip_224.laion2b_s4b_b115k/') },
  'EVA02-E-14-plus': { laion2b_s9b_b144k: pcfg('timm/eva02_enormous_patch14_plus_clip_224.laion2b_s9b_b144k/') },

  'ViT-B-16-SigLIP': siglip('ViT-B-16-SigLIP'),
  'ViT-B-16-SigLIP-256': siglip('ViT-B-16-SigLIP-256'),
  'ViT-B-16-SigLIP-i18n-256': siglip('ViT-B-16-SigLIP-i18n-256'),
  'ViT-B-16-SigLIP-384': siglip('ViT-B-16-SigLIP-384'),
  'ViT-B-16-SigLIP-512': siglip('ViT-B-16-SigLIP-512'),
  'ViT-L-16-SigLIP-256': siglip('ViT-L-16-SigLIP-256'),
  'ViT-L-16-SigLIP-384': siglip('ViT-L-16-SigLIP-384'),
  'ViT-SO400M-14-SigLIP': siglip('ViT-SO400M-14-SigLIP'),
  'ViT-SO400M-16-SigLIP-i18n-256': siglip('ViT-SO400M-16-SigLIP-i18n-256'),
  // 3.1.0 loads the 384 weights into the 378 model (the position grid is resized on load).
  'ViT-SO400M-14-SigLIP-378': { webli: slpcfg('timm/ViT-SO400M-14-SigLIP-384/') },
  'ViT-SO400M-14-SigLIP-384': siglip('ViT-SO400M-14-SigLIP-384'),

  'ViT-B-32-SigLIP2-256': siglip('ViT-B-32-SigLIP2-256'),
  'ViT-B-16-SigLIP2': siglip('ViT-B-16-SigLIP2'),
  'ViT-B-16-SigLIP2-256': siglip('ViT-B-16-SigLIP2-256'),
  'ViT-B-16-SigLIP2-384': siglip('ViT-B-16-SigLIP2-384'),
  'ViT-B-16-SigLIP2-512': siglip('ViT-B-16-SigLIP2-512'),
  'ViT-L-16-SigLIP2-256': siglip('ViT-L-16-SigLIP2-256'),
  'ViT-L-16-SigLIP2-384': siglip('ViT-L-16-SigLIP2-384'),
  'ViT-L-16-SigLIP2-512': siglip('ViT-L-16-SigLIP2-512'),
  'ViT-SO400M-14-SigLIP2': siglip('ViT-SO400M-14-SigLIP2'),
  'ViT-SO400M-14-SigLIP2-378': siglip('ViT-SO400M-14-SigLIP2-378'),
  'ViT-SO400M-16-SigLIP2-256': siglip('ViT-SO400M-16-SigLIP2-256'),
  'ViT-SO400M-16-SigLIP2-384': siglip('ViT-SO400M-16-SigLIP2-384'),
  'ViT-SO400M-16-SigLIP2-512': siglip('ViT-SO400M-16-SigLIP2-512'),
  'ViT-gopt-16-SigLIP2-256': siglip('ViT-gopt-16-SigLIP2-256'),
  'ViT-gopt-16-SigLIP2-384': siglip('ViT-gopt-16-SigLIP2-384'),

  'ViT-L-14-CLIPA': { datacomp1b: apcfg('UCSC-VLAA/ViT-L-14-CLIPA-datacomp1B/') },
  'ViT-L-14-CLIPA-336': { datacomp1b: apcfg('UCSC-VLAA/ViT-L-14-CLIPA-336-datacomp1B/') },
  'ViT-H-14-CLIPA': { datacomp1b: apcfg('UCSC-VLAA/ViT-H-14-CLIPA-datacomp1B/') },
  'ViT-H-14-CLIPA-336': {
    laion2b: apcfg('UCSC-VLAA/ViT-H-14-CLIPA-336-laion2B/'),
    datacomp1b: apcfg('UCSC-VLAA/ViT-H-14-CLIPA-336-datacomp1B/'),
  },
  'ViT-bigG-14-CLIPA': { datacomp1b: apcfg('UCSC-VLAA/ViT-bigG-14-CLIPA-datacomp1B/') },
  'ViT-bigG-14-CLIPA-336': { datacomp1b: apcfg('UCSC-VLAA/ViT-bigG-14-CLIPA-336-datacomp1B/') },

  'nllb-clip-base': { v1: pcfg('visheratin/nllb-clip-base-oc/') },
  'nllb-clip-large': { v1: pcfg('visheratin/nllb-clip-large-oc/') },
  'nllb-clip-base-siglip': {
    v1: slpcfg('visheratin/nllb-clip-base-siglip/'),
    mrl: slpcfg('visheratin/nllb-siglip-mrl-base/'),
  },
  'nllb-clip-large-siglip': {
    v1: slpcfg('visheratin/nllb-clip-large-siglip/'),
    mrl: slpcfg('visheratin/nllb-siglip-mrl-large/'),
  },

  'MobileCLIP-S1': { datacompdr: mccfg('apple/MobileCLIP-S1-OpenCLIP/') },
  'MobileCLIP-S2': { datacompdr: mccfg('apple/MobileCLIP-S2-OpenCLIP/') },
  'MobileCLIP-B': {
    datacompdr: mccfg('apple/MobileCLIP-B-OpenCLIP/'),
    datacompdr_lt: mccfg('apple/MobileCLIP-B-LT-OpenCLIP/'),
  },

  'ViTamin-S': vitamin('ViTamin-S'),
  'ViTamin-S-LTT': vitamin('ViTamin-S-LTT'),
  'ViTamin-B': vitamin('ViTamin-B'),
  'ViTamin-B-LTT': vitamin('ViTamin-B-LTT'),
  'ViTamin-L': vitamin('ViTamin-L-224px'),
  'ViTamin-L-256': vitamin('ViTamin-L-256px'),
  'ViTamin-L-336': vitamin('ViTamin-L-336px'),
  'ViTamin-L-384': vitamin('ViTamin-L-384px'),
  'ViTamin-L2': vitamin('ViTamin-L2-224px'),
  'ViTamin-L2-256': vitamin('ViTamin-L2-256px'),
  'ViTamin-L2-336': vitamin('ViTamin-L2-336px'),
  'ViTamin-L2-384': vitamin('ViTamin-L2-384px'),
  'ViTamin-XL-256': vitamin('ViTamin-XL-256px'),
  'ViTamin-XL-336': vitamin('ViTamin-XL-336px'),
  'ViTamin-XL-384': vitamin('ViTamin-XL-384px'),

  'PE-Core-T-16-384': { meta: pecfg('timm/PE-Core-T-16-384/') },
  'PE-Core-S-16-384': { meta: pecfg('timm/PE-Core-S-16-384/') },
  'PE-Core-B-16': { meta: pecfg('timm/PE-Core-B-16/') },
  'PE-Core-L-14-336': { meta: pecfg('timm/PE-Core-L-14-336/') },
  'PE-Core-bigG-14-448': { meta: pecfg('timm/PE-Core-bigG-14-448/') },

  // MetaCLIP 2 (worldwide): native towers with a multilingual HF tokenizer (mT5 for L, XLM-V for H
  // and bigG). Only the 224 px L and H checkpoints use QuickGELU; the 378 px ones are squashed.
  'ViT-L-14-worldwide': { metaclip2_worldwide: pcfg('timm/vit_large_patch14_clip_224.metaclip2_worldwide/', QG) },
  'ViT-H-14-worldwide': { metaclip2_worldwide: pcfg('timm/vit_huge_patch14_clip_224.metaclip2_worldwide/', QG) },
  'ViT-H-14-worldwide-378': {
    metaclip2_worldwide: pcfg('timm/vit_huge_patch14_clip_378.metaclip2_worldwide/', { resize_mode: 'squash' }),
  },
  'ViT-bigG-14-worldwide': { metaclip2_worldwide: pcfg('timm/vit_gigantic_patch14_clip_224.metaclip2_worldwide/') },
  'ViT-bigG-14-worldwide-378': {
    metaclip2_worldwide: pcfg('timm/vit_gigantic_patch14_clip_378.metaclip2_worldwide/', { resize_mode: 'squash' }),
  },
};

/** What a model family needs beyond OpenCLIP's native towers and CLIP BPE tokenizer. */
export type Architecture = 'native' | 'native+hf-tokenizer' | 'timm' | 'hf-text' | 'timm+hf-text';

/** The tower families of OpenCLIP's model configs, by name (facts of `src/open_clip/model_configs/*.json`). */
export function architectureOf(model: string): { architecture: Architecture; needs?: string } {
  if (/^nllb-clip-.*-siglip$/.test(model)) return { architecture: 'timm+hf-text', needs: 'timm SigLIP vision tower and Hugging Face NLLB text model' };
  if (/^(roberta-|xlm-roberta-|nllb-clip-|mt5-)/.test(model)) return { architecture: 'hf-text', needs: 'Hugging Face transformers text model' };
  if (/^(EVA0|convnext_|ViTamin-|MobileCLIP-|PE-Core-|vit_|swin_)/.test(model) || /SigLIP/.test(model)) {
    return { architecture: 'timm', needs: 'timm vision tower' };
  }
  if (/CLIPA/.test(model)) return { architecture: 'native+hf-tokenizer', needs: 'Hugging Face tokenizer (bert-base-uncased)' };
  if (/-worldwide/.test(model)) return { architecture: 'native+hf-tokenizer', needs: `Hugging Face multilingual tokenizer (${/^ViT-L-/.test(model) ? 'google/mt5-base' : 'facebook/xlm-v-base'})` };
  return { architecture: 'native' };
}
