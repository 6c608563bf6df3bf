/** `openclip tokenize`: show how OpenCLIP's tokenizer (CLIP BPE or a model's HF tokenizer) turns captions into token rows. */
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Args, Flags } from '@oclif/core';
import { type TextConfigLike, type TextTokenizer, type TokenBatch, tokenizerForTextConfig } from '@openclip/tokenizer';
import { BaseCommand } from '../base-command.js';

export interface TokenizeRow {
  text: string;
  ids: number[];
  /** Vocabulary string of each id (byte-level symbols for CLIP BPE). */
  pieces: string[];
}

export interface TokenizeResult {
  /** 'clip-bpe' (OpenCLIP SimpleTokenizer) or 'hf:<name>'. */
  tokenizer: string;
  model: string | null;
  contextLength: number;
  padTokenId: number;
  rows: TokenizeRow[];
}

/** Resolved at run time so the CLI works before (and without) the models package. */
const MODELS_PACKAGE = '@openclip/models';

function textConfigFromFile(path: string): TextConfigLike {
  let json: { text_cfg?: TextConfigLike; model_cfg?: { text_cfg?: TextConfigLike } };
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: not a readable JSON model config (${(e as Error).message})`);
  }
  const textCfg = json?.text_cfg ?? json?.model_cfg?.text_cfg;
  if (!textCfg || typeof textCfg !== 'object') {
    throw new Error(`${path}: no text_cfg (expected an OpenCLIP model-config JSON or an open_clip_config.json with model_cfg.text_cfg)`);
  }
  return textCfg;
}

/** First use of a model's Hugging Face tokenizer: download it into the HF cache through the models package's Hub client. */
async function downloadTokenizer(name: string, cacheDir: string | undefined): Promise<void> {
  let hub: { downloadHfTokenizer?: (n: string, o: { cacheDir?: string }) => Promise<unknown> } | null = null;
  try {
    hub = await import(`${MODELS_PACKAGE}/hub`);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw e;
  }
  // Without the models package the tokenizer must already be in the cache (tokenizerForTextConfig says so).
  if (typeof hub?.downloadHfTokenizer === 'function') await hub.downloadHfTokenizer(name, { cacheDir });
}

async function textConfigFromRegistry(name: string): Promise<TextConfigLike> {
  let models: { getModelConfig?: (name: string) => { text_cfg?: TextConfigLike } } | null = null;
  try {
    models = await import(MODELS_PACKAGE);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw e;
  }
  if (typeof models?.getModelConfig !== 'function') {
    throw new Error(
      `model '${name}': built-in model names need ${MODELS_PACKAGE} (getModelConfig), which is not available; pass the path of an OpenCLIP model-config JSON to --model instead`,
    );
  }
  const cfg = models.getModelConfig(name);
  if (!cfg?.text_cfg) throw new Error(`model '${name}': its config has no text_cfg`);
  return cfg.text_cfg;
}

/** Texts from a JSON-lines file (or '-' for stdin): each non-blank line is one JSON string. */
function readJsonl(path: string): string[] {
  const source = path === '-' ? 'stdin' : path;
  if (path !== '-' && !existsSync(path)) throw new Error(`--jsonl ${path}: file not found`);
  const text = readFileSync(path === '-' ? 0 : path, 'utf8');
  const out: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new Error(`${source}:${i + 1}: not valid JSON (${(e as Error).message}); each line must be one JSON-encoded string`);
    }
    if (typeof value !== 'string') throw new Error(`${source}:${i + 1}: expected a JSON string, got ${value === null ? 'null' : typeof value}`);
    out.push(value);
  });
  return out;
}

export default class Tokenize extends BaseCommand<TokenizeResult> {
  static override summary = "Tokenize captions as OpenCLIP does and print the token rows";
  static override description =
    'Prints, for each caption, the token row the text tower receives: [SOT] + BPE ids + [EOT], zero padded or truncated to the context length (EOT kept last) for CLIP, or the model\'s Hugging Face tokenizer with OpenCLIP\'s cleaning, padding and truncation. With --json, one JSON array of ids per input.';
  static override examples = [
    '<%= config.bin %> tokenize "a photo of a cat"',
    '<%= config.bin %> tokenize --json --context-length 16 "a photo of a cat" "a dog"',
    '<%= config.bin %> tokenize --model ViT-B-32 --jsonl captions.jsonl',
    '<%= config.bin %> tokenize --model ./my-model.json "a diagram"',
  ];
  static override strict = false;
  static override args = {
    text: Args.string({ description: 'captions to tokenize (several allowed)', ignoreStdin: true }),
  };
  static override flags = {
    model: Flags.string({
      description: 'built-in model name or path to an OpenCLIP model-config JSON; decides the tokenizer and context length (default: CLIP BPE, 77)',
    }),
    'context-length': Flags.integer({ min: 1, description: "context length (default: the model's text_cfg.context_length, else 77)" }),
    jsonl: Flags.string({ description: "file with one JSON-encoded string per line, so tabs and newlines survive ('-' reads stdin)" }),
    'cache-dir': Flags.string({ description: 'Hugging Face hub cache folder for models with an HF tokenizer (default: $HF_HUB_CACHE or $HF_HOME/hub)' }),
  };

  async run(): Promise<TokenizeResult> {
    const { argv, flags } = await this.parse(Tokenize);
    const texts = (argv as string[]).slice();
    let tokenizer: TextTokenizer;
    let batch: TokenBatch;
    let kind = 'clip-bpe';
    try {
      if (flags.jsonl) texts.push(...readJsonl(flags.jsonl));
      if (texts.length === 0) throw new Error('no text to tokenize: pass captions as arguments or --jsonl FILE');
      let textCfg: TextConfigLike = {};
      if (flags.model) textCfg = existsSync(flags.model) ? textConfigFromFile(flags.model) : await textConfigFromRegistry(flags.model);
      if (textCfg.hf_tokenizer_name) await downloadTokenizer(textCfg.hf_tokenizer_name, flags['cache-dir']);
      tokenizer = tokenizerForTextConfig(textCfg, {
        modelName: flags.model ? basename(flags.model).replace(/\.json$/, '') : undefined,
        contextLength: flags['context-length'],
        cacheDir: flags['cache-dir'],
      });
      if (textCfg.hf_tokenizer_name) kind = `hf:${textCfg.hf_tokenizer_name}`;
      batch = tokenizer.tokenize(texts);
    } catch (e) {
      this.error((e as Error).message, { exit: 2 });
    }
    const ctx = batch.shape[1];
    const rows = texts.map((text, i) => {
      const ids = Array.from(batch.data.subarray(i * ctx, (i + 1) * ctx));
      return { text, ids, pieces: ids.map((id) => tokenizer.idToToken(id) ?? '') };
    });
    return this.finish({ tokenizer: kind, model: flags.model ?? null, contextLength: ctx, padTokenId: tokenizer.padTokenId, rows });
  }

  /** `--json`: one JSON array of ids per input, one per line, inside a single JSON array. */
  protected override toSuccessJson(result: unknown): unknown {
    return (result as TokenizeResult).rows.map((r) => r.ids);
  }

  protected override logJson(json: unknown): void {
    if (Array.isArray(json) && json.every((r) => Array.isArray(r))) {
      process.stdout.write(json.length === 0 ? '[]\n' : `[\n${json.map((r) => JSON.stringify(r)).join(',\n')}\n]\n`);
    } else {
      super.logJson(json);
    }
  }

  protected render(r: TokenizeResult): void {
    this.log(`tokenizer ${r.tokenizer}${r.model ? ` (model ${r.model})` : ''}, context length ${r.contextLength}`);
    r.rows.forEach((row, i) => {
      let end = row.ids.length;
      while (end > 0 && row.ids[end - 1] === r.padTokenId) end--;
      this.log(`[${i}] ${JSON.stringify(row.text)}`);
      const width = Math.max(...row.ids.slice(0, end).map((id) => String(id).length), 1);
      for (let j = 0; j < end; j++) this.log(`  ${String(row.ids[j]).padStart(width)}  ${row.pieces[j]}`);
      if (end < row.ids.length) this.log(`  (+${row.ids.length - end} × padding ${r.padTokenId})`);
    });
  }
}
