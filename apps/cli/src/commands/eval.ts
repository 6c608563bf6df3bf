import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { runEvaluation, type EvalResult } from '@openclip/train';

export default class Eval extends BaseCommand<EvalResult> {
  static override summary = 'Evaluate a model: zero-shot top-1/top-5 on an image folder, retrieval metrics and loss on captioned data';
  static override description =
    'Zero-shot logits are 100 x image @ classifier with OpenCLIP\'s ImageNet class names and OpenAI templates for a 1000-class folder, the synthetic shape names for a folder made by make-dataset, else the folder names.';
  static override examples = [
    '<%= config.bin %> eval --model ViT-B-32 --pretrained laion2b_s34b_b79k --imagenet-val /data/imagenet/val',
    '<%= config.bin %> eval --model ViT-Tiny-8-64-demo --pretrained logs/demo/checkpoints/epoch_8.safetensors --imagenet-val demo/zeroshot --json',
    '<%= config.bin %> eval --model RN50 --pretrained openai --val-data val.csv --csv-separator , --json',
  ];
  static override flags = {
    model: Flags.string({ description: 'built-in model name or model-config JSON path', default: 'RN50' }),
    pretrained: Flags.string({ description: 'pretrained tag, hf-hub:org/name, local-dir:PATH or a checkpoint file' }),
    'imagenet-val': Flags.string({ description: 'image folder (root/class/*.jpg) for zero-shot top-1/top-5' }),
    'imagenet-v2': Flags.string({ description: 'ImageNet-V2 image folder for zero-shot' }),
    'val-data': Flags.string({ description: 'captioned validation data (CSV or webdataset shards)' }),
    'val-num-samples': Flags.integer({ description: 'samples in --val-data (webdataset without sizes.json)' }),
    'dataset-type': Flags.string({ description: 'type of --val-data', options: ['auto', 'csv', 'webdataset'], default: 'auto' }),
    'csv-separator': Flags.string({ description: 'CSV separator', default: '\t' }),
    'csv-img-key': Flags.string({ description: 'CSV image column', default: 'filepath' }),
    'csv-caption-key': Flags.string({ description: 'CSV caption column', default: 'title' }),
    'batch-size': Flags.integer({ description: 'batch size', default: 64 }),
    workers: Flags.integer({ description: 'data worker threads', default: 2 }),
    'cache-dir': Flags.string({ description: 'pretrained weights cache (default: the Hugging Face cache)' }),
    'force-quick-gelu': Flags.boolean({ description: 'use QuickGELU (OpenAI weights)' }),
    'force-image-size': Flags.integer({ description: 'override the image size' }),
  };

  async run(): Promise<EvalResult> {
    const { flags } = await this.parse(Eval);
    await this.startEngine(flags.backend as string | undefined);
    let r: EvalResult;
    try {
      r = await runEvaluation({
        model: flags.model,
        pretrained: flags.pretrained ?? null,
        imagenetVal: flags['imagenet-val'] ?? null,
        imagenetV2: flags['imagenet-v2'] ?? null,
        valData: flags['val-data'] ?? null,
        valNumSamples: flags['val-num-samples'] ?? null,
        datasetType: flags['dataset-type'] as 'auto',
        csvSeparator: flags['csv-separator'],
        csvImgKey: flags['csv-img-key'],
        csvCaptionKey: flags['csv-caption-key'],
        batchSize: flags['batch-size'],
        workers: flags.workers,
        backend: flags.backend as string | undefined,
        cacheDir: flags['cache-dir'],
        factory: { forceQuickGelu: flags['force-quick-gelu'], forceImageSize: flags['force-image-size'] },
        log: (l) => this.logToStderr(`openclip eval: ${l}`),
        progress: !this.jsonEnabled() && Boolean(process.stderr.isTTY),
      });
    } catch (e) {
      this.error((e as Error).message, { exit: 1 });
    }
    return this.finish(r);
  }

  protected render(r: EvalResult): void {
    this.log(`model ${r.model}${r.checkpoint ? ` (${r.checkpoint})` : ' (random init)'}`);
    const width = Math.max(...Object.keys(r.metrics).map((k) => k.length));
    for (const [k, v] of Object.entries(r.metrics)) this.log(`  ${k.padEnd(width)}  ${Number.isInteger(v) ? v : v.toFixed(4)}`);
  }
}
