/**
 * The functions a data worker applies — image transform and tokenizer — and the plain, serialisable
 * options each worker thread builds them from (OpenCLIP hands its DataLoader workers pickled
 * transforms; worker threads get these specs instead).
 */

import type { Rng } from '@openclip/engine/rng';
import type { ImageKernels } from '../image/native.js';
import type { PilImage } from '../image/pil-image.js';
import type { ImageTensor } from '../image/to-tensor.js';
import type { TokenBatch, TextTokenizerSpec } from '@openclip/tokenizer';

export type { ImageTensor, TokenBatch };

/**
 * An image transform as the pipeline calls it: encoded bytes (and where they came from, for errors) to
 * `[3,H,W]` floats. When `out` is given (the sample's slot in the batch) the transform may write there
 * and return it, saving a copy; returning other memory is fine too.
 */
export type TransformFn = ((bytes: Uint8Array, source: string, out?: Float32Array, rng?: Rng) => ImageTensor | Promise<ImageTensor>) & {
  /**
   * The same transform on pixels that are already decoded (a source that has them, such as the lossless
   * synthetic PNGs, then skips encoding and decoding). Optional: without it every sample goes through bytes.
   */
  decoded?: (image: PilImage, source: string, out?: Float32Array, rng?: Rng) => ImageTensor;
};
/** A batch tokenizer: one `[n, contextLength]` Int32 row block for n texts. */
export type TokenizeFn = (texts: string[]) => TokenBatch | Promise<TokenBatch>;

/**
 * A function built by a module: `import(module)[exportName](options)` must return (or resolve to) the
 * function. `module` is a package name or a `file:` URL.
 */
export interface FactorySpec {
  kind: 'factory';
  module: string;
  exportName?: string;
  options?: unknown;
}

/** This package's preprocessing: `imageTransform(config, { isTrain, aug })` of the Images section. */
export interface PreprocessSpec {
  kind: 'preprocess';
  /** An OpenCLIP preprocess config (`image_size`, `mean`, `std`, `interpolation`, `resize_mode`, `fill_color`). */
  config: Record<string, unknown>;
  isTrain: boolean;
  /** OpenCLIP `--aug-cfg` (train only). */
  aug?: Record<string, unknown>;
  /** `imageTransform`'s `kernels`: 'auto' (default), 'native' or 'js'. */
  kernels?: ImageKernels;
}

/**
 * A tokenizer of `@openclip/tokenizer`: the model's (`spec`, from its `tokenizerSpecForTextConfig(text_cfg)`,
 * CLIP BPE or a Hugging Face tokenizer), else the CLIP BPE `SimpleTokenizer` at `contextLength` (default 77).
 */
export interface TokenizerPackageSpec {
  kind: 'tokenizer';
  spec?: TextTokenizerSpec;
  contextLength?: number;
  /** Further `SimpleTokenizerOptions` (e.g. `clean`) when no `spec` is given. */
  options?: Record<string, unknown>;
}

export type TransformSpec = PreprocessSpec | FactorySpec;
export type TokenizerSpec = TokenizerPackageSpec | FactorySpec;

async function fromFactory<F>(spec: FactorySpec, what: string): Promise<F> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(spec.module)) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${what}: cannot import '${spec.module}': ${(e as Error).message}`);
  }
  const name = spec.exportName ?? 'default';
  const factory = mod[name];
  if (typeof factory !== 'function') throw new Error(`${what}: '${spec.module}' has no function export '${name}'`);
  const fn = await (factory as (o: unknown) => unknown)(spec.options);
  if (typeof fn !== 'function') throw new Error(`${what}: ${spec.module}#${name}(options) did not return a function`);
  return fn as F;
}

/**
 * Builds the image transform a spec describes (imports lazily, so worker threads load only what they use).
 * `rng` seeds the random augmentations of a training transform (one stream per worker).
 */
export async function buildTransform(spec: TransformSpec | TransformFn, rng?: Rng): Promise<TransformFn> {
  if (typeof spec === 'function') return spec;
  if (spec.kind === 'factory') return fromFactory<TransformFn>(spec, 'image transform');
  if (spec.kind === 'preprocess') {
    const { imageTransform } = await import('../image/image-transform.js');
    const t = imageTransform(spec.config, { isTrain: spec.isTrain, aug: spec.aug, rng, kernels: spec.kernels });
    const fn: TransformFn = (bytes, source, out, sampleRng) => t(bytes, { source, out, rng: sampleRng });
    fn.decoded = (image, source, out, sampleRng) => {
      try {
        return t.applyDecoded(image, { source, out, rng: sampleRng });
      } catch (err) {
        throw new Error(`cannot preprocess image ${source}: ${(err as Error).message}`);
      }
    };
    return fn;
  }
  throw new Error(`image transform: unknown spec kind '${(spec as { kind: string }).kind}'`);
}

/** Builds the tokenizer a spec describes. */
export async function buildTokenizer(spec: TokenizerSpec | TokenizeFn): Promise<TokenizeFn> {
  if (typeof spec === 'function') return spec;
  if (spec.kind === 'factory') return fromFactory<TokenizeFn>(spec, 'tokenizer');
  if (spec.kind === 'tokenizer') {
    const pkg = await import('@openclip/tokenizer');
    if (spec.spec) {
      const tok = pkg.createTokenizer(spec.spec);
      return (texts) => tok.tokenize(texts);
    }
    const tok = new pkg.SimpleTokenizer({ ...spec.options, contextLength: spec.contextLength });
    return (texts) => tok.tokenize(texts);
  }
  throw new Error(`tokenizer: unknown spec kind '${(spec as { kind: string }).kind}'`);
}
