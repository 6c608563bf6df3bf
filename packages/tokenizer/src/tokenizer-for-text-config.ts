/** OpenCLIP `get_tokenizer`'s choice of tokenizer from a model config's `text_cfg` (HF tokenizer name, tokenizer_kwargs, context length), as a serialisable spec. */
import { HFTokenizer } from './hf-tokenizer.js';
import { DEFAULT_CONTEXT_LENGTH, SimpleTokenizer } from './simple-tokenizer.js';
import { CLEAN_MODES, type CleanMode } from './text-clean.js';
import { defaultTokenizer } from './tokenize.js';
import type { TextTokenizer } from './types.js';

/** Plain-data description of a tokenizer, safe to post to a worker thread and rebuild there. */
export type TextTokenizerSpec =
  | {
      kind: 'clip';
      contextLength?: number;
      clean?: CleanMode;
      additionalSpecialTokens?: string[];
      /** Vocabulary file or folder; default: the bundled CLIP merges. */
      vocabPath?: string;
    }
  | {
      kind: 'hf';
      /** Hub repo id (looked up in the HF cache), folder, or tokenizer.json path. */
      name: string;
      contextLength?: number;
      clean?: CleanMode;
      stripSepToken?: boolean;
      cacheDir?: string;
      revision?: string;
    };

/** The parts of an OpenCLIP `text_cfg` that decide the tokenizer. */
export interface TextConfigLike {
  context_length?: number | null;
  vocab_size?: number | null;
  hf_tokenizer_name?: string | null;
  tokenizer_kwargs?: Record<string, unknown> | null;
  tokenizer_mode?: string | null;
  [key: string]: unknown;
}

export interface TokenizerForConfigOptions {
  /** Model name: OpenCLIP picks its SigLIP sentencepiece tokenizer for names containing 'siglip' without hf_tokenizer_name. */
  modelName?: string;
  /** Overrides `text_cfg.context_length`. */
  contextLength?: number;
  /** Hub cache folder for HF tokenizers (OpenCLIP's `cache_dir`). */
  cacheDir?: string;
  /** Extra tokenizer kwargs (snake_case as in Python), merged over `text_cfg.tokenizer_kwargs`. */
  kwargs?: Record<string, unknown>;
}

const CLIP_KWARGS = ['clean', 'additional_special_tokens', 'reduction_mask', 'context_length'];
const HF_KWARGS = ['clean', 'strip_sep_token', 'language', 'cache_dir', 'revision', 'context_length'];

function checkKwargs(kwargs: Record<string, unknown>, allowed: string[], what: string): void {
  for (const key of Object.keys(kwargs)) {
    if (!allowed.includes(key)) throw new Error(`tokenizer_kwargs.${key} is not an option of ${what} (accepted: ${allowed.join(', ')})`);
  }
}

function cleanOf(kwargs: Record<string, unknown>): CleanMode | undefined {
  const c = kwargs.clean;
  if (c === undefined) return undefined;
  if (typeof c !== 'string' || !CLEAN_MODES.includes(c as CleanMode)) {
    throw new Error(`tokenizer_kwargs.clean must be one of ${CLEAN_MODES.join(', ')}, got ${JSON.stringify(c)}`);
  }
  return c as CleanMode;
}

/** The tokenizer OpenCLIP's `get_tokenizer(model_name)` would build for this `text_cfg`, as a spec. */
export function tokenizerSpecForTextConfig(textCfg: TextConfigLike = {}, options: TokenizerForConfigOptions = {}): TextTokenizerSpec {
  if (textCfg.tokenizer_mode) {
    throw new Error(`text_cfg.tokenizer_mode ${JSON.stringify(textCfg.tokenizer_mode)} is not supported (only the default tokenizer selection is)`);
  }
  const kwargs: Record<string, unknown> = { ...(textCfg.tokenizer_kwargs ?? {}), ...(options.kwargs ?? {}) };
  const contextLength = options.contextLength ?? (kwargs.context_length as number | undefined) ?? textCfg.context_length ?? DEFAULT_CONTEXT_LENGTH;
  if (textCfg.hf_tokenizer_name) {
    checkKwargs(kwargs, HF_KWARGS, `HFTokenizer (${textCfg.hf_tokenizer_name})`);
    if (kwargs.language !== undefined) throw new Error('tokenizer_kwargs.language (set_src_lang_special_tokens) is not supported');
    return {
      kind: 'hf',
      name: textCfg.hf_tokenizer_name,
      contextLength,
      clean: cleanOf(kwargs),
      stripSepToken: kwargs.strip_sep_token === undefined ? undefined : Boolean(kwargs.strip_sep_token),
      cacheDir: options.cacheDir ?? (kwargs.cache_dir as string | undefined),
      revision: kwargs.revision as string | undefined,
    };
  }
  if (options.modelName && options.modelName.toLowerCase().includes('siglip')) {
    throw new Error(
      `model ${options.modelName}: OpenCLIP's built-in SigLIP sentencepiece tokenizer (no text_cfg.hf_tokenizer_name) is not supported; ` +
        'set text_cfg.hf_tokenizer_name to a Hugging Face tokenizer (e.g. timm/ViT-B-16-SigLIP) present in the HF cache',
    );
  }
  checkKwargs(kwargs, CLIP_KWARGS, 'SimpleTokenizer');
  if (kwargs.reduction_mask) throw new Error(`tokenizer_kwargs.reduction_mask ${JSON.stringify(kwargs.reduction_mask)} (CLIPA token reduction) is not supported`);
  const extra = kwargs.additional_special_tokens;
  if (extra !== undefined && (!Array.isArray(extra) || extra.some((t) => typeof t !== 'string'))) {
    throw new Error('tokenizer_kwargs.additional_special_tokens must be a list of strings');
  }
  return { kind: 'clip', contextLength, clean: cleanOf(kwargs), additionalSpecialTokens: extra as string[] | undefined };
}

/** Build the tokenizer a spec describes (the shared default instance for a plain CLIP spec). */
export function createTokenizer(spec: TextTokenizerSpec): TextTokenizer {
  if (spec.kind === 'hf') {
    return HFTokenizer.load(spec.name, {
      contextLength: spec.contextLength,
      clean: spec.clean,
      stripSepToken: spec.stripSepToken,
      cacheDir: spec.cacheDir,
      revision: spec.revision,
    });
  }
  if (spec.kind !== 'clip') throw new Error(`unknown tokenizer kind ${JSON.stringify((spec as { kind: unknown }).kind)}: expected "clip" or "hf"`);
  const plain = !spec.vocabPath && !spec.additionalSpecialTokens?.length && (spec.clean ?? 'lower') === 'lower';
  if (plain && (spec.contextLength ?? DEFAULT_CONTEXT_LENGTH) === DEFAULT_CONTEXT_LENGTH) return defaultTokenizer();
  // Without a vocabPath the bundled vocabulary is built once per process and shared.
  return new SimpleTokenizer({
    contextLength: spec.contextLength,
    clean: spec.clean,
    additionalSpecialTokens: spec.additionalSpecialTokens,
    vocab: spec.vocabPath,
  });
}

/** OpenCLIP `get_tokenizer` given the model's `text_cfg`: what the models package's `getTokenizer(name)` calls. */
export function tokenizerForTextConfig(textCfg: TextConfigLike = {}, options: TokenizerForConfigOptions = {}): TextTokenizer {
  return createTokenizer(tokenizerSpecForTextConfig(textCfg, options));
}
