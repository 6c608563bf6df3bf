/**
 * `openclip embed`: image and/or text features of a model (OpenCLIP's encode_image / encode_text on
 * the eval transform and the model's tokenizer), written as float32 safetensors in input order.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { Flags } from '@oclif/core';
import { saveSafetensors, tf } from '@openclip/engine';
import { IMAGE_FOLDER_EXTENSIONS } from '@openclip/data';
import { createModelAndTransforms, getTokenizerAsync } from '@openclip/models';
import { ProgressBar, downloadProgress } from '@openclip/train/progress';
import { BaseCommand } from '../base-command.js';

export interface EmbedResult {
  out: string;
  model: string;
  pretrained: string | null;
  checkpoint: string | null;
  backend: string;
  normalize: boolean;
  embedDim: number;
  images: number;
  texts: number;
  seconds: number;
}

/** Image paths from a folder (its image files, sorted by name) or a list file (one path per line, relative to the list's folder). */
export function listImages(spec: string): string[] {
  if (!existsSync(spec)) throw new Error(`--images ${spec}: not found (give a folder of images or a text file listing image paths)`);
  if (statSync(spec).isDirectory()) {
    const files = readdirSync(spec)
      .filter((f) => IMAGE_FOLDER_EXTENSIONS.includes(extname(f).toLowerCase()))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .map((f) => join(spec, f));
    if (files.length === 0) throw new Error(`--images ${spec}: no image files (${IMAGE_FOLDER_EXTENSIONS.join(', ')}) in the folder`);
    return files;
  }
  const base = dirname(resolve(spec));
  const out: string[] = [];
  readFileSync(spec, 'utf8').split(/\r?\n/).forEach((line, i) => {
    const p = line.trim();
    if (p === '') return;
    const full = isAbsolute(p) ? p : join(base, p);
    if (!existsSync(full)) throw new Error(`${spec}:${i + 1}: image ${p} not found (relative paths are resolved against ${base})`);
    out.push(full);
  });
  if (out.length === 0) throw new Error(`--images ${spec}: the list has no paths`);
  return out;
}

/** Captions: one per line, or one JSON-encoded string per line for `.jsonl` (blank lines skipped). */
export function readTexts(path: string): string[] {
  if (!existsSync(path)) throw new Error(`--texts ${path}: file not found`);
  const lines = readFileSync(path, 'utf8').split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  if (!path.endsWith('.jsonl')) {
    if (lines.length === 0) throw new Error(`--texts ${path}: no captions`);
    return lines;
  }
  const out: string[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new Error(`${path}:${i + 1}: not valid JSON (${(e as Error).message}); each line of a .jsonl file must be one JSON string`);
    }
    if (typeof v !== 'string') throw new Error(`${path}:${i + 1}: expected a JSON string, got ${v === null ? 'null' : typeof v}`);
    out.push(v);
  });
  if (out.length === 0) throw new Error(`--texts ${path}: no captions`);
  return out;
}

export default class Embed extends BaseCommand<EmbedResult> {
  static override summary = 'Compute image and/or text features with a model and write them to a safetensors file';
  static override description =
    'Rows are in input order: images sorted by file name for a folder, or in list order; one caption per line (.jsonl: one JSON string per line). ' +
    'The file holds float32 `image_features` [N, E] and `text_features` [M, E]; its metadata records the model, weights and every source.';
  static override examples = [
    '<%= config.bin %> embed --model ViT-B-32 --pretrained laion2b_s34b_b79k --images photos/ --out feats.safetensors',
    '<%= config.bin %> embed --model my-config.json --pretrained epoch_3.safetensors --images list.txt --texts captions.jsonl --normalize --out feats.safetensors',
  ];

  static override flags = {
    model: Flags.string({ description: 'Built-in model name, a model-config JSON file, or local-dir:<folder>', required: true }),
    pretrained: Flags.string({ description: 'Pretrained tag of the model or a checkpoint file (.safetensors/.bin/.pt); without it the weights are random' }),
    images: Flags.string({ description: 'Folder of images, or a text file listing image paths (one per line)' }),
    texts: Flags.string({ description: 'Captions: one per line, or one JSON string per line in a .jsonl file' }),
    out: Flags.string({ description: 'Output .safetensors file', required: true }),
    'batch-size': Flags.integer({ description: 'Images or captions per forward pass', default: 64, min: 1 }),
    normalize: Flags.boolean({ description: 'L2-normalise the features', default: false }),
    'cache-dir': Flags.string({ description: 'Hugging Face cache folder for pretrained weights and tokenizers' }),
  };

  async run(): Promise<EmbedResult> {
    const { flags } = await this.parse(Embed);
    if (!flags.images && !flags.texts) this.error('give --images and/or --texts', { exit: 2 });
    if (!flags.out.endsWith('.safetensors')) this.error(`--out ${flags.out}: the output must be a .safetensors file`, { exit: 2 });
    let imagePaths: string[] = [];
    let texts: string[] = [];
    try {
      if (flags.images) imagePaths = listImages(flags.images);
      if (flags.texts) texts = readTexts(flags.texts);
    } catch (e) {
      this.error((e as Error).message, { exit: 2 });
    }
    const engine = await this.startEngine(flags.backend);
    const t0 = Date.now();
    const spec = flags.model;
    const tty = !this.jsonEnabled() && Boolean(process.stderr.isTTY);
    const dl = downloadProgress({ enabled: tty });
    const built = await createModelAndTransforms(spec, { pretrained: flags.pretrained ?? null, cacheDir: flags['cache-dir'], onDownloadProgress: dl.onDownloadProgress })
      .catch((e: Error) => this.error(e.message, { exit: 2 }))
      .finally(dl.stop);
    const { model, preprocessVal, checkpoint } = built;
    model.eval();
    if (!checkpoint && !this.jsonEnabled()) this.logToStderr('openclip: warning: no --pretrained given, the features come from randomly initialised weights');
    const bs = flags['batch-size'];
    const normalize = flags.normalize;
    let bar: ProgressBar | null = null;
    const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
    let embedDim = model.config.embed_dim;
    try {
      if (imagePaths.length) {
        const [, h, w] = preprocessVal.outputShape;
        const out = new Float32Array(imagePaths.length * embedDim);
        bar = new ProgressBar('embed images', imagePaths.length, 'images', { enabled: tty });
        const load = (start: number) => Promise.all(imagePaths.slice(start, start + bs).map(async (p) => {
          try {
            return await preprocessVal(new Uint8Array(readFileSync(p)), { source: p });
          } catch (e) {
            throw new Error(`${p}: ${(e as Error).message}`);
          }
        }));
        let pending = load(0);
        for (let start = 0; start < imagePaths.length; start += bs) {
          const pix = await pending;
          if (start + bs < imagePaths.length) pending = load(start + bs);
          const batch = new Float32Array(pix.length * 3 * h * w);
          pix.forEach((p, i) => batch.set(p.data, i * 3 * h * w));
          const feats = tf.tidy(() => model.encodeImage(tf.tensor4d(batch, [pix.length, 3, h, w]), { normalize }));
          embedDim = feats.shape[1]!;
          out.set(await feats.data() as Float32Array, start * embedDim);
          feats.dispose();
          bar?.update(start + pix.length);
        }
        bar?.stop();
        tensors.image_features = { dtype: 'F32', shape: [imagePaths.length, embedDim], data: out };
      }
      if (texts.length) {
        const tokenizer = await getTokenizerAsync(spec, { cacheDir: flags['cache-dir'] });
        const out = new Float32Array(texts.length * embedDim);
        bar = new ProgressBar('embed texts', texts.length, 'texts', { enabled: tty });
        for (let start = 0; start < texts.length; start += bs) {
          const chunk = texts.slice(start, start + bs);
          const toks = tokenizer.tokenize(chunk);
          const feats = tf.tidy(() => model.encodeText(tf.tensor2d(toks.data, toks.shape, 'int32'), { normalize }));
          out.set(await feats.data() as Float32Array, start * embedDim);
          feats.dispose();
          bar?.update(start + chunk.length);
        }
        bar?.stop();
        tensors.text_features = { dtype: 'F32', shape: [texts.length, embedDim], data: out };
      }
    } catch (e) {
      bar?.stop();
      model.dispose();
      this.error((e as Error).message, { exit: 1 });
    }
    const metadata: Record<string, string> = {
      format: 'openclip-ts embed',
      model: spec,
      pretrained: flags.pretrained ?? '',
      checkpoint: checkpoint ?? '',
      normalize: String(normalize),
      backend: engine.backend,
      preprocess_cfg: JSON.stringify(built.preprocessCfg),
    };
    if (imagePaths.length) metadata.image_sources = JSON.stringify(imagePaths);
    if (texts.length) {
      metadata.text_source = flags.texts!;
      metadata.texts = JSON.stringify(texts);
    }
    saveSafetensors(flags.out, tensors, metadata);
    model.dispose();
    return this.finish({
      out: flags.out,
      model: spec,
      pretrained: flags.pretrained ?? null,
      checkpoint,
      backend: engine.backend,
      normalize,
      embedDim,
      images: imagePaths.length,
      texts: texts.length,
      seconds: (Date.now() - t0) / 1000,
    });
  }

  protected render(r: EmbedResult): void {
    const parts = [];
    if (r.images) parts.push(`image_features [${r.images}, ${r.embedDim}]`);
    if (r.texts) parts.push(`text_features [${r.texts}, ${r.embedDim}]`);
    this.log(`wrote ${parts.join(' and ')} to ${r.out} (${r.normalize ? 'normalised, ' : ''}${r.seconds.toFixed(1)} s on ${r.backend})`);
  }
}
