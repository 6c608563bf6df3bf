/**
 * `openclip generate`: captions for images with a CoCa model, as OpenCLIP's `model.generate(image)`
 * followed by `open_clip.decode(...).split("<end_of_text>")[0].replace("<start_of_text>", "")`.
 * One line per image (path, tab, caption) on stdout or in --out; --json gives the rows.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Flags } from '@oclif/core';
import { tf } from '@openclip/engine';
import { createModelAndTransforms, getTokenizerAsync, GENERATION_TYPES, type GenerateOptions, type GenerationType } from '@openclip/models';
import { ProgressBar, downloadProgress } from '@openclip/train/progress';
import { BaseCommand } from '../base-command.js';
import { listImages } from './embed.js';

export interface GenerateResult {
  model: string;
  pretrained: string | null;
  generationType: string;
  /** The file the captions were written to (null: stdout). */
  out: string | null;
  captions: { image: string; caption: string; tokens: number[] }[];
}

/** OpenCLIP's README recipe: decode, cut at `<end_of_text>`, drop `<start_of_text>`. */
export function captionText(decoded: string): string {
  return decoded.split('<end_of_text>')[0].replace('<start_of_text>', '').trim();
}

export default class Generate extends BaseCommand<GenerateResult> {
  static override summary = 'Caption images with a CoCa model (OpenCLIP model.generate: beam search, top-k or top-p sampling)';
  static override description =
    'Images are a folder (sorted by file name) or a text file of paths. Defaults are OpenCLIP\'s generate(): beam_search, seq_len 30, min_seq_len 5, 6 beams in 3 groups, top_k 1, top_p 0.1, temperature 1, repetition_penalty 1. ' +
    'Sampling (top_k, top_p) is seeded by --seed.';
  static override examples = [
    '<%= config.bin %> generate --model coca_ViT-B-32 --pretrained mscoco_finetuned_laion2b_s13b_b90k --images photos/',
    '<%= config.bin %> generate --model coca_ViT-L-14 --pretrained laion2b_s13b_b90k --images list.txt --generation-type top_p --top-p 0.9 --out captions.tsv',
  ];

  static override flags = {
    model: Flags.string({ description: 'A CoCa model: built-in name (coca_ViT-B-32, coca_ViT-L-14, coca_base), model-config JSON, or local-dir:<folder>', required: true }),
    pretrained: Flags.string({ description: 'Pretrained tag or checkpoint file; without it the weights are random' }),
    images: Flags.string({ description: 'Folder of images, or a text file listing image paths (one per line)', required: true }),
    out: Flags.string({ description: 'Write "path<TAB>caption" lines here instead of stdout' }),
    'generation-type': Flags.string({ description: 'Decoding', options: [...GENERATION_TYPES], default: 'beam_search' }),
    'seq-len': Flags.integer({ description: 'Maximum caption length in tokens, <start_of_text> included', default: 30, min: 2 }),
    'min-seq-len': Flags.integer({ description: '<end_of_text> is blocked before this length', default: 5, min: 0 }),
    temperature: Flags.string({ description: 'Sampling temperature', default: '1.0' }),
    'top-k': Flags.integer({ description: 'top_k: keep this many highest logits', default: 1, min: 1 }),
    'top-p': Flags.string({ description: 'top_p: keep the smallest set of tokens whose probability exceeds this', default: '0.1' }),
    'repetition-penalty': Flags.string({ description: 'Penalty on tokens already generated (1 = none)', default: '1.0' }),
    'num-beams': Flags.integer({ description: 'beam_search: beams', default: 6, min: 1 }),
    'num-beam-groups': Flags.integer({ description: 'beam_search: diverse beam groups (must divide --num-beams)', default: 3, min: 1 }),
    seed: Flags.integer({ description: 'Seed of top_k / top_p sampling', default: 0 }),
    'batch-size': Flags.integer({ description: 'Images per generate call', default: 8, min: 1 }),
    'cache-dir': Flags.string({ description: 'Hugging Face cache folder for pretrained weights' }),
  };

  async run(): Promise<GenerateResult> {
    const { flags } = await this.parse(Generate);
    const num = (name: string, v: string): number => {
      const x = Number(v);
      if (!Number.isFinite(x)) this.error(`--${name}: expected a number, got '${v}'`, { exit: 2 });
      return x;
    };
    const options: GenerateOptions = {
      generationType: flags['generation-type'] as GenerationType,
      seqLen: flags['seq-len'],
      minSeqLen: flags['min-seq-len'],
      temperature: num('temperature', flags.temperature),
      topK: flags['top-k'],
      topP: num('top-p', flags['top-p']),
      repetitionPenalty: num('repetition-penalty', flags['repetition-penalty']),
      numBeams: flags['num-beams'],
      numBeamGroups: flags['num-beam-groups'],
      rng: flags.seed,
    };
    let paths: string[];
    try {
      paths = listImages(flags.images);
    } catch (e) {
      this.error((e as Error).message, { exit: 2 });
    }
    await this.startEngine(flags.backend);
    const tty = !this.jsonEnabled() && Boolean(process.stderr.isTTY);
    const dl = downloadProgress({ enabled: tty });
    const built = await createModelAndTransforms(flags.model, { pretrained: flags.pretrained ?? null, cacheDir: flags['cache-dir'], onDownloadProgress: dl.onDownloadProgress })
      .catch((e: Error) => this.error(e.message, { exit: 2 }))
      .finally(dl.stop);
    const { model, preprocessVal, checkpoint } = built;
    if (typeof (model as { generate?: unknown }).generate !== 'function') {
      model.dispose();
      this.error(`--model ${flags.model}: ${model.constructor.name} has no text decoder; captions need a CoCa model (coca_ViT-B-32, coca_ViT-L-14, coca_base)`, { exit: 2 });
    }
    const captions: GenerateResult['captions'] = [];
    const bar = new ProgressBar('generate', paths.length, 'images', { enabled: tty });
    try {
      if (!checkpoint && !this.jsonEnabled()) this.logToStderr('openclip: warning: no --pretrained given, the captions come from randomly initialised weights');
      const tokenizer = await getTokenizerAsync(flags.model, { cacheDir: flags['cache-dir'] }); // an HF tokenizer is fetched on first use
      const coca = model as unknown as { generate(images: tf.Tensor, o: GenerateOptions): Promise<number[][]> };
      const [, h, w] = preprocessVal.outputShape;
      for (let start = 0; start < paths.length; start += flags['batch-size']) {
        const chunk = paths.slice(start, start + flags['batch-size']);
        const pix = await Promise.all(chunk.map(async (p) => {
          try {
            return await preprocessVal(new Uint8Array(readFileSync(p)), { source: p });
          } catch (e) {
            throw new Error(`${p}: ${(e as Error).message}`);
          }
        }));
        const batch = new Float32Array(pix.length * 3 * h * w);
        pix.forEach((p, i) => batch.set(p.data, i * 3 * h * w));
        const images = tf.tensor4d(batch, [pix.length, 3, h, w]);
        let rows: number[][];
        try {
          rows = await coca.generate(images, options);
        } finally {
          images.dispose();
        }
        rows.forEach((tokens, i) => captions.push({ image: chunk[i], caption: captionText(tokenizer.decode(tokens)), tokens }));
        bar.update(captions.length);
      }
    } catch (e) {
      bar.stop();
      model.dispose();
      this.error((e as Error).message, { exit: 1 });
    }
    bar.stop();
    model.dispose();
    if (flags.out) writeFileSync(flags.out, captions.map((c) => `${c.image}\t${c.caption}`).join('\n') + '\n');
    return this.finish({ model: flags.model, pretrained: flags.pretrained ?? null, generationType: options.generationType!, out: flags.out ?? null, captions });
  }

  protected render(r: GenerateResult): void {
    if (r.out) this.log(`wrote ${r.captions.length} captions to ${r.out}`);
    else for (const c of r.captions) this.log(`${c.image}\t${c.caption}`);
  }
}
