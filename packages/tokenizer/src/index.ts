// @openclip/tokenizer — CLIP byte-level BPE and Hugging Face tokenizers, matching OpenCLIP token for token.
// Plain typed arrays only (no tensors), so it runs in data worker threads.

// Shared shapes
export type { TextTokenizer, TokenBatch } from './types.js';

// CLIP BPE (OpenCLIP SimpleTokenizer, open_clip.tokenize / decode)
export { DEFAULT_CONTEXT_LENGTH, SimpleTokenizer, type SimpleTokenizerOptions } from './simple-tokenizer.js';
export { decode, defaultTokenizer, tokenize } from './tokenize.js';
export {
  type BpeVocab,
  CLIP_MERGE_COUNT,
  EOT_TOKEN,
  SOT_TOKEN,
  bundledMergesText,
  defaultClipVocab,
  loadBpeVocab,
} from './bpe-vocab.js';

// Hugging Face tokenizers (OpenCLIP HFTokenizer)
export { HFTokenizer, type HFTokenizerOptions } from './hf-tokenizer.js';
export { type HfLocateOptions, locateHfTokenizer } from './hf-locate.js';

// Choosing a tokenizer from a model config (OpenCLIP get_tokenizer), serialisable specs for workers
export {
  type TextConfigLike,
  type TokenizerForConfigOptions,
  type TextTokenizerSpec,
  createTokenizer,
  tokenizerForTextConfig,
  tokenizerSpecForTextConfig,
} from './tokenizer-for-text-config.js';

// Text cleaning (Python semantics)
export { basicClean, canonicalizeText, CLEAN_MODES, type CleanMode, getCleanFn, whitespaceClean } from './text-clean.js';
export { htmlUnescape } from './html-unescape.js';
