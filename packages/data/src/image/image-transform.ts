/**
 * open_clip `image_transform(image_size, is_train, mean, std, resize_mode, interpolation,
 * fill_color, aug_cfg)` without timm: bytes or a decoded image to a normalised float32 CHW
 * tensor, pixel-identical to torchvision on PIL.
 */
import { Rng } from '@openclip/engine/rng';
import { centerCropOrPadRegion } from './center-crop.js';
import { colorJitter, colorJitterRanges, toGrayscale, type ColorJitterRanges } from './color-jitter.js';
import { decodeImage, decodeJpegNative } from './decode.js';
import { checkImageKernels, type ImageKernels } from './native.js';
import { convertToRgb, type PilImage } from './pil-image.js';
import {
  outputSize, parseAugmentationConfig, parsePreprocessConfig,
  type AugmentationConfig, type PreprocessConfig,
} from './preprocess-config.js';
import { DEFAULT_CROP_RATIO, randomResizedCropRegion } from './random-resized-crop.js';
import { cropImage, keepRatioSize, resizeAndCrop, resizeImage, shortestEdgeSize } from './resize.js';
import { rgbToTensor, toTensor, type ImageTensor } from './to-tensor.js';

export interface ImageTransformOptions {
  /** Training transform (RandomResizedCrop + optional jitter/grayscale) instead of eval. */
  isTrain?: boolean;
  /** OpenCLIP AugmentationCfg (train only). */
  aug?: Partial<AugmentationConfig> | Record<string, unknown>;
  /** Randomness of the training transform; default `new Rng(0)`. Per-call `rng` overrides it. */
  rng?: Rng;
  /** Where to report augmentation keys OpenCLIP's non-timm path ignores (default console.warn). */
  warn?: (message: string) => void;
  /**
   * `auto` (default): JPEG decoding, resampling and normalisation in `@openclip/data-native` when it
   * is built, else TypeScript + sharp; `native`: the addon or an error; `js`: TypeScript + sharp.
   * All give the same floats.
   */
  kernels?: ImageKernels;
}

export interface ImageTransformCallOptions {
  /** File name for decode errors. */
  source?: string;
  /** Randomness for this sample (train). */
  rng?: Rng;
  /** Write the pixels here (length 3*H*W) instead of allocating. */
  out?: Float32Array;
}

/** A configured transform: call it with bytes (or a decoded PilImage). */
export interface ImageTransform {
  (input: Uint8Array | PilImage, opts?: ImageTransformCallOptions): Promise<ImageTensor>;
  /** The synchronous part, on an already decoded image. */
  applyDecoded(img: PilImage, opts?: ImageTransformCallOptions): ImageTensor;
  readonly config: PreprocessConfig;
  readonly aug: AugmentationConfig | null;
  readonly isTrain: boolean;
  /** [3, H, W] of every output. */
  readonly outputShape: [3, number, number];
}

/** Largest decoded image (bytes) kept in a transform's reusable decode buffer: 4096 x 4096 RGB. */
const SCRATCH_LIMIT = 4096 * 4096 * 3;

/** The eval path: Resize / ResizeKeepRatio + CenterCrop(OrPad), in the image's own mode. */
export function evalResizeCrop(img: PilImage, cfg: PreprocessConfig, kernels: ImageKernels = 'auto', alloc?: (n: number) => Uint8Array): PilImage {
  const [th, tw] = outputSize(cfg);
  const filter = cfg.interpolation === 'bilinear' ? 'bilinear' : 'bicubic';
  const { width: w, height: h } = img;
  if (cfg.resize_mode === 'squash') {
    return resizeAndCrop(img, tw, th, filter, { left: 0, top: 0, width: tw, height: th }, 0, kernels, alloc);
  }
  if (cfg.resize_mode === 'longest') {
    const [nw, nh] = keepRatioSize(w, h, th, tw, 1);
    return resizeAndCrop(img, nw, nh, filter, centerCropOrPadRegion(nw, nh, th, tw), cfg.fill_color, kernels, alloc);
  }
  const [nw, nh] = th === tw ? shortestEdgeSize(w, h, th) : keepRatioSize(w, h, th, tw, 0);
  // torchvision CenterCrop pads with 0 (not fill_color) if the resized image is smaller.
  return resizeAndCrop(img, nw, nh, filter, centerCropOrPadRegion(nw, nh, th, tw), 0, kernels, alloc);
}

function isPilImage(x: unknown): x is PilImage {
  return typeof x === 'object' && x !== null && 'mode' in x && 'data' in x && !(x instanceof Uint8Array);
}

/**
 * Builds OpenCLIP's image transform from a preprocess config (parsed with
 * `parsePreprocessConfig`, so a raw model `preprocess_cfg` object works too).
 */
export function imageTransform(config: Partial<PreprocessConfig> | Record<string, unknown> | PreprocessConfig = {}, options: ImageTransformOptions = {}): ImageTransform {
  const cfg = parsePreprocessConfig(config);
  const isTrain = options.isTrain ?? false;
  const [th, tw] = outputSize(cfg);
  let aug: AugmentationConfig | null = null;
  let jitter: ColorJitterRanges | null = null;
  const baseRng = options.rng ?? new Rng(0);
  const kernels = options.kernels ?? 'auto';
  checkImageKernels(kernels, 'imageTransform');
  // Decoded JPEG pixels live here between decode and resize (both synchronous, so concurrent
  // calls of this transform never share it); it grows to the largest image seen.
  // The same for the resized 8-bit pixels of the eval path, which ToTensor reads right after.
  // Images above SCRATCH_LIMIT bytes get their own memory.
  const reusable = () => {
    let buf = new Uint8Array(0);
    return (n: number): Uint8Array => {
      if (n > SCRATCH_LIMIT) return new Uint8Array(n);
      if (buf.length < n) buf = new Uint8Array(n);
      return buf.subarray(0, n);
    };
  };
  const scratchOf = reusable();
  const resizedOf = reusable();
  if (isTrain) {
    aug = parseAugmentationConfig(options.aug ?? {});
    if (aug.use_timm || aug.naflex) {
      throw new Error('augmentation config use_timm / naflex selects timm transforms, which openclip-ts does not implement: remove them');
    }
    const unused: string[] = [];
    if (aug.ratio !== null) unused.push('ratio');
    if (aug.re_prob !== null) unused.push('re_prob');
    if (aug.re_count !== null) unused.push('re_count');
    if (aug.color_jitter !== null && !aug.color_jitter_prob) unused.push('color_jitter (without color_jitter_prob)');
    if (unused.length) {
      (options.warn ?? console.warn)(`augmentation config items ignored without timm, as in OpenCLIP: ${unused.join(', ')}`);
    }
    if (aug.color_jitter_prob) {
      const cj = aug.color_jitter;
      if (!Array.isArray(cj) || cj.length !== 4) {
        throw new Error(`augmentation config color_jitter_prob needs color_jitter as 4 numbers [brightness, contrast, saturation, hue], got ${JSON.stringify(cj)}`);
      }
      jitter = colorJitterRanges(cj[0], cj[1], cj[2], cj[3]);
    }
  } else if (options.aug !== undefined) {
    parseAugmentationConfig(options.aug);
  }

  const applyDecoded = (img: PilImage, opts: ImageTransformCallOptions = {}): ImageTensor => {
    if (!isTrain) return toTensor(evalResizeCrop(img, cfg, kernels, resizedOf), cfg.mean, cfg.std, opts.out, kernels);
    const rng = opts.rng ?? baseRng;
    const a = aug as AugmentationConfig;
    const region = randomResizedCropRegion(img.width, img.height, a.scale, DEFAULT_CROP_RATIO, rng);
    // RandomResizedCrop always uses BICUBIC in OpenCLIP.
    const resized = resizeImage(cropImage(img, region), tw, th, 'bicubic', kernels);
    let rgb = convertToRgb(resized);
    if (rgb === resized.data && (a.color_jitter_prob || a.gray_scale_prob)) rgb = rgb.slice();
    if (jitter && a.color_jitter_prob && rng.random() < a.color_jitter_prob) colorJitter(rgb, jitter, rng);
    if (a.gray_scale_prob && rng.random() < a.gray_scale_prob) toGrayscale(rgb);
    return rgbToTensor(rgb, tw, th, cfg.mean, cfg.std, opts.out, kernels);
  };

  const transform = (async (input: Uint8Array | PilImage, opts: ImageTransformCallOptions = {}): Promise<ImageTensor> => {
    let img: PilImage | null = null;
    if (!isPilImage(input)) {
      // JPEGs the addon decodes: decode, transform and normalise in one synchronous step.
      img = decodeJpegNative(input, kernels, scratchOf);
    }
    img ??= isPilImage(input) ? input : await decodeImage(input, opts.source, kernels);
    try {
      return applyDecoded(img, opts);
    } catch (err) {
      if (opts.source) throw new Error(`cannot preprocess image ${opts.source}: ${(err as Error).message}`);
      throw err;
    }
  }) as ImageTransform;
  Object.defineProperties(transform, {
    applyDecoded: { value: applyDecoded },
    config: { value: cfg },
    aug: { value: aug },
    isTrain: { value: isTrain },
    outputShape: { value: [3, th, tw] },
  });
  return transform;
}
