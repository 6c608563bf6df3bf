/**
 * `openclip make-dataset`: writes the synthetic shapes set as a CSV + images, webdataset shards
 * (`00000.tar`... + `sizes.json`, img2dataset style) or an image-folder tree, so every data path of
 * `openclip train` / zero-shot eval can be run without a download.
 */
import { Flags } from '@oclif/core';
import { writeSyntheticDataset, type WriteSyntheticResult } from '@openclip/data';
import { ProgressBar } from '@openclip/train/progress';
import { BaseCommand } from '../base-command.js';

export type MakeDatasetResult = Omit<WriteSyntheticResult, 'classes' | 'files'> & { files: number; classes: number; trainFlags: string[] };

export default class MakeDataset extends BaseCommand<MakeDatasetResult> {
  static override summary = 'Write a synthetic dataset of coloured shapes with captions (CSV, webdataset shards or image folders)';
  static override description =
    'Images are procedurally drawn shapes (circle, square, ...) in six colours, captioned like "a photo of a red circle", ' +
    'deterministic from --seed. The result is printed with the --train-data/--dataset-type flags that read it.';
  static override examples = [
    '<%= config.bin %> make-dataset --type webdataset --num-samples 2000 --shard-size 500 --out data/shapes-wds',
    '<%= config.bin %> make-dataset --type csv --num-samples 500 --image-size 64 --out data/shapes-csv',
    '<%= config.bin %> make-dataset --type imagefolder --num-samples 360 --out data/shapes-val --json',
  ];

  static override flags = {
    type: Flags.string({ description: 'layout to write', options: ['csv', 'webdataset', 'imagefolder'], required: true }),
    'num-samples': Flags.integer({ description: 'number of images', required: true, min: 1 }),
    'shard-size': Flags.integer({ description: 'samples per tar shard (webdataset)', default: 1000, min: 1 }),
    'image-size': Flags.integer({ description: 'image side in pixels', default: 224, min: 8 }),
    seed: Flags.integer({ description: 'random seed: the same seed writes the same images and captions', default: 0, min: 0 }),
    format: Flags.string({ description: 'image encoding', options: ['jpg', 'png'], default: 'jpg' }),
    out: Flags.string({ description: 'output folder (created if missing)', required: true }),
  };

  async run(): Promise<MakeDatasetResult> {
    const { flags } = await this.parse(MakeDataset);
    if (flags.type === 'webdataset' || flags.type === 'csv' || flags.type === 'imagefolder') {
      const bar = new ProgressBar(`make-dataset ${flags.type}`, flags['num-samples'], 'images', { enabled: !this.jsonEnabled() && Boolean(process.stderr.isTTY) });
      const progress = (done: number) => bar.update(done);
      let r: WriteSyntheticResult;
      try {
        r = await writeSyntheticDataset({
          type: flags.type,
          out: flags.out,
          numSamples: flags['num-samples'],
          shardSize: flags['shard-size'],
          imageSize: flags['image-size'],
          seed: flags.seed,
          format: flags.format as 'jpg' | 'png',
          onProgress: progress,
        });
      } catch (e) {
        bar.stop();
        this.error((e as Error).message, { exit: 2 });
      }
      bar.stop();
      const trainFlags =
        r.type === 'webdataset'
          ? ['--train-data', r.trainData, '--dataset-type', 'webdataset']
          : r.type === 'csv'
            ? ['--train-data', r.trainData, '--dataset-type', 'csv', '--csv-img-key', 'filepath', '--csv-caption-key', 'title']
            : ['--imagenet-val', r.trainData];
      const { classes, files, ...rest } = r;
      return this.finish({ ...rest, files: files.length, classes: classes.length, trainFlags });
    }
    this.error(`unknown --type ${flags.type}`, { exit: 2 });
  }

  protected render(r: MakeDatasetResult): void {
    const what = r.type === 'webdataset' ? `${r.shards} shard(s) + sizes.json` : r.type === 'csv' ? 'a CSV + images/' : `${r.classes} class folders`;
    this.log(`wrote ${r.numSamples} ${r.imageSize}x${r.imageSize} ${r.format} images (seed ${r.seed}) as ${what} in ${r.out}`);
    this.log(`read it with: ${r.trainFlags.map((f) => (/[\s{}]/.test(f) ? `'${f}'` : f)).join(' ')}`);
  }
}
