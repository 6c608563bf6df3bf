/** OpenCLIP's module-level `tokenize(texts, context_length=77)` and `decode(ids)`, backed by one shared default SimpleTokenizer. */
import { SimpleTokenizer } from './simple-tokenizer.js';
import type { TokenBatch } from './types.js';

let shared: SimpleTokenizer | undefined;

/** The process-wide default CLIP tokenizer (bundled merges, clean 'lower', context 77). */
export function defaultTokenizer(): SimpleTokenizer {
  shared ??= new SimpleTokenizer();
  return shared;
}

/** `open_clip.tokenize`: rows of [SOT] + BPE ids + [EOT], zero padded or truncated (EOT kept last). */
export function tokenize(texts: unknown, contextLength = 77): TokenBatch {
  return defaultTokenizer().tokenize(texts, contextLength);
}

/** `open_clip.decode`: ids back to text with `<start_of_text>`/`<end_of_text>` and `</w>` → space. */
export function decode(ids: ArrayLike<number>): string {
  return defaultTokenizer().decode(ids);
}
