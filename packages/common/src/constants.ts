/**
 * OpenCLIP's image normalisation constants (open_clip/constants.py): the one home of these
 * numbers for every package.
 */

/** Mean and std of OpenAI's CLIP training images, OpenCLIP's default preprocessing. */
export const OPENAI_DATASET_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const OPENAI_DATASET_STD = [0.26862954, 0.26130258, 0.27577711] as const;
/** ImageNet's mean and std (torchvision). */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;
/** Inception-style normalisation to [-1, 1]. */
export const INCEPTION_MEAN = [0.5, 0.5, 0.5] as const;
export const INCEPTION_STD = [0.5, 0.5, 0.5] as const;

/** OpenCLIP's file names in a Hugging Face repo: the pickled weights, their safetensors twin, the config. */
export const HF_WEIGHTS_NAME = 'open_clip_pytorch_model.bin';
export const HF_SAFE_WEIGHTS_NAME = 'open_clip_model.safetensors';
export const HF_CONFIG_NAME = 'open_clip_config.json';

/** `torch.optim.AdamW`'s defaults for the hyper-parameters a caller may leave out. */
export const TORCH_ADAMW_DEFAULTS = Object.freeze({ beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
