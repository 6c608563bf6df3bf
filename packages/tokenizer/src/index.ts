// @openclip/tokenizer — CLIP byte-level BPE and Hugging Face tokenizers, matching OpenCLIP token for token.

// Shared shapes
export type { TextTokenizer, TokenBatch } from './types.js';

// CLIP BPE (OpenCLIP SimpleTokenizer)
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

// Text cleaning (Python semantics)
export { basicClean, canonicalizeText, CLEAN_MODES, type CleanMode, getCleanFn, whitespaceClean } from './text-clean.js';
export { htmlUnescape } from './html-unescape.js';
