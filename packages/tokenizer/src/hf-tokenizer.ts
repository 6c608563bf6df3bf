/** OpenCLIP `HFTokenizer`: a Hugging Face `tokenizer.json` (SigLIP/T5 sentencepiece, RoBERTa, XLM-R, mT5, BERT) with OpenCLIP's cleaning, max-length padding, truncation and `strip_sep_token`. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { type HfLocateOptions, locateHfTokenizer } from './hf-locate.js';
import { DEFAULT_CONTEXT_LENGTH } from './simple-tokenizer.js';
import { type CleanMode, asText, getCleanFn } from './text-clean.js';
import { type TextTokenizer, type TokenBatch, asTextList, resolveContextLength } from './types.js';

export interface HFTokenizerOptions extends HfLocateOptions {
  /** Default context length (OpenCLIP's `text_cfg.context_length`; 77 when absent). */
  contextLength?: number;
  /** OpenCLIP clean mode; HFTokenizer's default is 'whitespace'. */
  clean?: CleanMode;
  /** Replace the SEP token id with 0 in the output rows. */
  stripSepToken?: boolean;
  /** Source-language special tokens (NLLB/M2M tokenizers) are not supported: any value is rejected. */
  language?: string;
}

type JsonObject = Record<string, unknown>;

function readJson(path: string): JsonObject {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as JsonObject;
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}

/** A special token as tokenizer_config.json writes it: a string or an AddedToken object `{content}`. */
function tokenString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as JsonObject).content === 'string') return (value as JsonObject).content as string;
  return undefined;
}

export class HFTokenizer implements TextTokenizer {
  readonly name: string;
  readonly contextLength: number;
  readonly vocabSize: number;
  readonly padTokenId: number;
  readonly sepTokenId: number | undefined;
  readonly clean: (text: string) => string;
  readonly stripSepToken: boolean;
  readonly paddingSide: 'left' | 'right';
  readonly truncationSide: 'left' | 'right';
  /** How many special tokens the post-processor adds to a single sequence. */
  readonly numSpecialTokens: number;
  readonly tokenizer: Tokenizer;
  private readonly unkId: number | undefined;

  /** Load from a folder, a tokenizer.json path, or a hub repo id present in the HF cache. */
  static load(nameOrPath: string, options: HFTokenizerOptions = {}): HFTokenizer {
    const dir = locateHfTokenizer(nameOrPath, options);
    const tokenizerJson = readJson(join(dir, 'tokenizer.json'));
    const configPath = join(dir, 'tokenizer_config.json');
    const mapPath = join(dir, 'special_tokens_map.json');
    const config = {
      ...(existsSync(mapPath) ? readJson(mapPath) : {}),
      ...(existsSync(configPath) ? readJson(configPath) : {}),
    };
    return new HFTokenizer(tokenizerJson, config, { ...options, name: nameOrPath });
  }

  constructor(tokenizerJson: JsonObject, tokenizerConfig: JsonObject, options: HFTokenizerOptions & { name?: string } = {}) {
    this.name = options.name ?? '<tokenizer.json>';
    if (options.language !== undefined) {
      throw new Error(`HF tokenizer ${this.name}: the language option (set_src_lang_special_tokens) is not supported`);
    }
    const json: JsonObject = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, added_tokens: [], ...tokenizerJson };
    if (!json.model || typeof json.model !== 'object') throw new Error(`HF tokenizer ${this.name}: tokenizer.json has no "model"`);
    // Special tokens as plain strings, the form @huggingface/tokenizers reads them in.
    const config: JsonObject = { ...tokenizerConfig };
    for (const key of ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token']) {
      const s = tokenString(config[key]);
      if (s !== undefined) config[key] = s;
      else delete config[key];
    }
    try {
      this.tokenizer = new Tokenizer(json, config);
    } catch (e) {
      throw new Error(`HF tokenizer ${this.name}: ${(e as Error).message}`);
    }
    this.contextLength = resolveContextLength(options.contextLength, DEFAULT_CONTEXT_LENGTH);
    this.clean = getCleanFn(options.clean ?? 'whitespace');
    this.stripSepToken = options.stripSepToken ?? false;
    this.vocabSize = this.tokenizer.get_vocab(true).size;
    this.unkId = this.tokenizer.model?.unk_token_id;

    const padding = json.padding as JsonObject | null | undefined;
    const padToken = (config.pad_token as string | undefined) ?? (padding?.pad_token as string | undefined);
    const padId = padToken !== undefined ? this.tokenizer.token_to_id(padToken) : (padding?.pad_id as number | undefined);
    if (padId === undefined) {
      throw new Error(
        `HF tokenizer ${this.name}: no padding token (pad_token in tokenizer_config.json or "padding" in tokenizer.json); OpenCLIP pads every row to the context length`,
      );
    }
    this.padTokenId = padId;
    const sep = config.sep_token as string | undefined;
    this.sepTokenId = sep !== undefined ? this.tokenizer.token_to_id(sep) : undefined;
    this.paddingSide = config.padding_side === 'left' || padding?.direction === 'Left' ? 'left' : 'right';
    this.truncationSide = config.truncation_side === 'left' ? 'left' : 'right';
    this.numSpecialTokens = this.tokenizer.post_processor ? this.tokenizer.post_processor([], null, true).tokens.length : 0;
  }

  private toId(token: string): number {
    const id = this.tokenizer.token_to_id(token) ?? this.unkId;
    if (id === undefined) throw new Error(`HF tokenizer ${this.name}: token ${JSON.stringify(token)} has no id and there is no unk token`);
    return id;
  }

  /** Content tokens (strings) of cleaned text, without special tokens. */
  private contentTokens(text: unknown): string[] {
    const cleaned = this.clean(asText(text));
    return this.tokenizer.tokenize(cleaned, { add_special_tokens: false });
  }

  /** Ids of one cleaned text without special tokens. */
  encode(text: unknown): number[] {
    return this.contentTokens(text).map((t) => this.toId(t));
  }

  /** One row: content truncated to leave room for the special tokens, post-processed, padded to `ctx`. */
  private row(text: unknown, ctx: number): number[] {
    if (ctx < this.numSpecialTokens) {
      throw new Error(`HF tokenizer ${this.name}: context length ${ctx} is shorter than its ${this.numSpecialTokens} special tokens`);
    }
    let content = this.contentTokens(text);
    const room = ctx - this.numSpecialTokens;
    if (content.length > room) content = this.truncationSide === 'right' ? content.slice(0, room) : content.slice(content.length - room);
    const tokens = this.tokenizer.post_processor ? this.tokenizer.post_processor(content, null, true).tokens : content;
    return (tokens as string[]).map((t) => this.toId(t));
  }

  /** OpenCLIP `HFTokenizer.__call__`: clean, encode with special tokens, truncate and pad to max length. */
  tokenize(texts: unknown, contextLength?: number): TokenBatch {
    const list = asTextList(texts);
    const ctx = resolveContextLength(contextLength, this.contextLength);
    const data = new Int32Array(list.length * ctx).fill(this.padTokenId);
    for (let i = 0; i < list.length; i++) {
      const ids = this.row(list[i], ctx);
      const offset = i * ctx + (this.paddingSide === 'left' ? ctx - ids.length : 0);
      for (let j = 0; j < ids.length; j++) data[offset + j] = ids[j];
    }
    if (this.stripSepToken && this.sepTokenId !== undefined) {
      for (let k = 0; k < data.length; k++) if (data[k] === this.sepTokenId) data[k] = 0;
    }
    return { data, shape: [list.length, ctx] };
  }

  decode(ids: ArrayLike<number>): string {
    const list = Array.from(ids, Number);
    if (list.length === 0) return '';
    return this.tokenizer.decode(list, { skip_special_tokens: false });
  }

  idToToken(id: number): string | undefined {
    return this.tokenizer.id_to_token(id);
  }
}
