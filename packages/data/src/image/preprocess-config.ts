/**
 * open_clip `PreprocessCfg` (image size, mean/std, interpolation, resize mode, fill colour)
 * and `AugmentationCfg`, with OpenCLIP's defaults and one validating parser each.
 */

import { nearestNames, OPENAI_DATASET_MEAN, OPENAI_DATASET_STD } from '@openclip/common';

export type ResizeMode = 'shortest' | 'longest' | 'squash';
/** 'random' is accepted as OpenCLIP does and means bicubic outside timm. */
export type InterpolationName = 'bicubic' | 'bilinear' | 'random';

export interface PreprocessConfig {
  /** Square side, or [height, width]. */
  image_size: number | [number, number];
  mean: [number, number, number];
  std: [number, number, number];
  interpolation: InterpolationName;
  resize_mode: ResizeMode;
  fill_color: number;
}

export interface AugmentationConfig {
  scale: [number, number];
  ratio: [number, number] | null;
  /** brightness, contrast, saturation[, hue]: one number or a 3/4-tuple, as OpenCLIP. */
  color_jitter: number | number[] | null;
  re_prob: number | null;
  re_count: number | null;
  naflex: boolean;
  use_timm: boolean;
  color_jitter_prob: number | null;
  gray_scale_prob: number | null;
}

export const PREPROCESS_DEFAULTS: Readonly<PreprocessConfig> = Object.freeze({
  image_size: 224,
  mean: [...OPENAI_DATASET_MEAN] as [number, number, number],
  std: [...OPENAI_DATASET_STD] as [number, number, number],
  interpolation: 'bicubic',
  resize_mode: 'shortest',
  fill_color: 0,
});

export const AUGMENTATION_DEFAULTS: Readonly<AugmentationConfig> = Object.freeze({
  scale: [0.9, 1.0] as [number, number],
  ratio: null,
  color_jitter: null,
  re_prob: null,
  re_count: null,
  naflex: false,
  use_timm: false,
  color_jitter_prob: null,
  gray_scale_prob: null,
});

/** The valid key closest to `key` by case-insensitive edit distance (the first of equals). */
export function nearestKey(key: string, valid: readonly string[]): string {
  return nearestNames(key, valid, { limit: 1, ties: 'given' })[0];
}

function checkKeys(obj: Record<string, unknown>, valid: readonly string[], what: string): void {
  for (const k of Object.keys(obj)) {
    if (!valid.includes(k)) {
      throw new Error(`unknown ${what} key "${k}" (did you mean "${nearestKey(k, valid)}"?); valid keys: ${valid.join(', ')}`);
    }
  }
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function positiveInt(v: unknown, key: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new Error(`preprocess config "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function triple(v: unknown, key: string, positive: boolean): [number, number, number] {
  const arr = typeof v === 'number' ? [v] : v;
  if (!Array.isArray(arr) || (arr.length !== 1 && arr.length !== 3) || !arr.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new Error(`preprocess config "${key}" must be a number or a list of 3 numbers, got ${JSON.stringify(v)}`);
  }
  const t = (arr.length === 1 ? [arr[0], arr[0], arr[0]] : arr) as [number, number, number];
  if (positive && t.some((x) => x <= 0)) throw new Error(`preprocess config "${key}" must be positive, got ${JSON.stringify(v)}`);
  return t;
}

const PREPROCESS_KEYS = ['image_size', 'size', 'mode', 'mean', 'std', 'interpolation', 'resize_mode', 'fill_color'] as const;

/**
 * Fills OpenCLIP's PreprocessCfg defaults and validates. Accepts open_clip's `size` as an
 * alias of `image_size` and `mode: 'RGB'`; `null` values mean the default (as OpenCLIP's
 * merge skips None). Unknown keys are rejected with the nearest valid name.
 */
export function parsePreprocessConfig(input: unknown = {}): PreprocessConfig {
  if (!isRecord(input)) throw new Error(`preprocess config must be an object, got ${JSON.stringify(input)}`);
  checkKeys(input, PREPROCESS_KEYS, 'preprocess config');
  const get = (k: string): unknown => (input[k] === null ? undefined : input[k]);
  if (get('image_size') !== undefined && get('size') !== undefined) {
    throw new Error('preprocess config has both "image_size" and its alias "size": keep one');
  }
  const mode = get('mode');
  if (mode !== undefined && mode !== 'RGB') throw new Error(`preprocess config "mode" must be "RGB", got ${JSON.stringify(mode)}`);
  const cfg: PreprocessConfig = {
    ...PREPROCESS_DEFAULTS,
    mean: [...PREPROCESS_DEFAULTS.mean],
    std: [...PREPROCESS_DEFAULTS.std],
  };
  const sizeKey = get('image_size') !== undefined ? 'image_size' : 'size';
  const size = get(sizeKey);
  if (size !== undefined) {
    if (Array.isArray(size)) {
      if (size.length === 1) cfg.image_size = positiveInt(size[0], sizeKey);
      else if (size.length === 2) cfg.image_size = [positiveInt(size[0], sizeKey), positiveInt(size[1], sizeKey)];
      else throw new Error(`preprocess config "${sizeKey}" must be an integer or [height, width], got ${JSON.stringify(size)}`);
    } else cfg.image_size = positiveInt(size, sizeKey);
  }
  if (get('mean') !== undefined) cfg.mean = triple(get('mean'), 'mean', false);
  if (get('std') !== undefined) cfg.std = triple(get('std'), 'std', true);
  const interp = get('interpolation');
  if (interp !== undefined) {
    if (interp !== 'bicubic' && interp !== 'bilinear' && interp !== 'random') {
      throw new Error(`preprocess config "interpolation" must be bicubic, bilinear or random, got ${JSON.stringify(interp)}`);
    }
    cfg.interpolation = interp;
  }
  const rm = get('resize_mode');
  if (rm !== undefined) {
    if (rm !== 'shortest' && rm !== 'longest' && rm !== 'squash') {
      throw new Error(`preprocess config "resize_mode" must be shortest, longest or squash, got ${JSON.stringify(rm)}`);
    }
    cfg.resize_mode = rm;
  }
  const fill = get('fill_color');
  if (fill !== undefined) {
    if (typeof fill !== 'number' || !Number.isInteger(fill) || fill < 0 || fill > 255) {
      throw new Error(`preprocess config "fill_color" must be an integer in 0..255, got ${JSON.stringify(fill)}`);
    }
    cfg.fill_color = fill;
  }
  return cfg;
}

/** [height, width] of a config's output. */
export function outputSize(cfg: PreprocessConfig): [number, number] {
  return typeof cfg.image_size === 'number' ? [cfg.image_size, cfg.image_size] : cfg.image_size;
}

const AUG_KEYS = Object.keys(AUGMENTATION_DEFAULTS);

function pair(v: unknown, key: string): [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === 'number' && Number.isFinite(x)) || v[0] > v[1] || v[0] <= 0) {
    throw new Error(`augmentation config "${key}" must be [low, high] with 0 < low <= high, got ${JSON.stringify(v)}`);
  }
  return [v[0], v[1]];
}

function prob(v: unknown, key: string): number {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new Error(`augmentation config "${key}" must be a probability in [0, 1], got ${JSON.stringify(v)}`);
  return v;
}

/** Fills OpenCLIP's AugmentationCfg defaults (scale (0.9, 1.0)) and validates types. */
export function parseAugmentationConfig(input: unknown = {}): AugmentationConfig {
  if (!isRecord(input)) throw new Error(`augmentation config must be an object, got ${JSON.stringify(input)}`);
  checkKeys(input, AUG_KEYS, 'augmentation config');
  const cfg: AugmentationConfig = { ...AUGMENTATION_DEFAULTS, scale: [...AUGMENTATION_DEFAULTS.scale] };
  const get = (k: string): unknown => (input[k] === null ? undefined : input[k]);
  if (get('scale') !== undefined) {
    cfg.scale = pair(get('scale'), 'scale');
    if (cfg.scale[1] > 1) throw new Error(`augmentation config "scale" upper bound must be <= 1, got ${JSON.stringify(get('scale'))}`);
  }
  if (get('ratio') !== undefined) cfg.ratio = pair(get('ratio'), 'ratio');
  const cj = get('color_jitter');
  if (cj !== undefined) {
    const ok = (typeof cj === 'number' && cj >= 0)
      || (Array.isArray(cj) && (cj.length === 3 || cj.length === 4) && cj.every((x) => typeof x === 'number' && x >= 0));
    if (!ok) throw new Error(`augmentation config "color_jitter" must be a number or 3/4 non-negative numbers, got ${JSON.stringify(cj)}`);
    cfg.color_jitter = cj as number | number[];
  }
  if (get('re_prob') !== undefined) cfg.re_prob = prob(get('re_prob'), 're_prob');
  if (get('re_count') !== undefined) cfg.re_count = positiveInt(get('re_count'), 're_count');
  for (const k of ['naflex', 'use_timm'] as const) {
    const v = get(k);
    if (v !== undefined) {
      if (typeof v !== 'boolean') throw new Error(`augmentation config "${k}" must be true or false, got ${JSON.stringify(v)}`);
      cfg[k] = v;
    }
  }
  if (get('color_jitter_prob') !== undefined) cfg.color_jitter_prob = prob(get('color_jitter_prob'), 'color_jitter_prob');
  if (get('gray_scale_prob') !== undefined) cfg.gray_scale_prob = prob(get('gray_scale_prob'), 'gray_scale_prob');
  return cfg;
}
