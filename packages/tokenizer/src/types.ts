/** Shapes shared by every tokenizer: OpenCLIP tokenizers return a LongTensor [n, context_length]; here a plain Int32Array + shape. */

/** Token rows, row-major: `data.length === shape[0] * shape[1]`. */
export interface TokenBatch {
  data: Int32Array;
  shape: [number, number];
}

/** What the model factory, data workers and CLI need from any tokenizer (CLIP BPE or Hugging Face). */
export interface TextTokenizer {
  /** Default context length (OpenCLIP's `text_cfg.context_length`). */
  readonly contextLength: number;
  readonly vocabSize: number;
  readonly padTokenId: number;
  /** OpenCLIP's `tokenizer(texts, context_length)`: one padded/truncated row per text. */
  tokenize(texts: unknown, contextLength?: number): TokenBatch;
  /** Ids of one text without special tokens, padding or truncation. */
  encode(text: unknown): number[];
  decode(ids: ArrayLike<number>): string;
  /** The vocabulary string of each id (for showing pieces beside ids). */
  idToToken(id: number): string | undefined;
}

/** Check a context length: undefined/0 fall back to `fallback` (Python's `context_length or default`). */
export function resolveContextLength(value: number | undefined, fallback: number): number {
  const ctx = value || fallback;
  if (!Number.isInteger(ctx) || ctx < 1) {
    throw new Error(`context length must be a positive integer, got ${JSON.stringify(value ?? fallback)}`);
  }
  return ctx;
}

/** OpenCLIP accepts one string or a list: normalise to an array. */
export function asTextList(texts: unknown): unknown[] {
  return Array.isArray(texts) ? texts : [texts];
}
