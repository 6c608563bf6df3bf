import { BaseCommand } from '../base-command.js';
import { trainFlags, givenTrainValues } from '../train-flags.js';
import { parseTrainConfig, runTraining, TrainConfigError, discoverWorld, chooseBackend, connectWorld, transportOptionsFromEnv, type Collectives, type TrainRunResult } from '@openclip/train';

export interface TrainResult {
  name: string;
  logDir: string | null;
  steps: number;
  checkpoints: string[];
  metrics: Record<string, number>;
  epochs: { epoch: number; meanLoss: number; samplesPerSecond: number; metrics: Record<string, number> }[];
}

export default class Train extends BaseCommand<TrainResult> {
  static override summary = 'Train a CLIP / CoCa model with OpenCLIP\'s flags (python -m open_clip_train.main)';
  static override description =
    'Every flag of OpenCLIP 3.1.0 open_clip_train/params.py, with its default. Only fp32 precision runs on TensorFlow.js: without --precision the run uses fp32 and says so; another precision asked for by name stops at start. ' +
    'A flag given twice takes its last value, as argparse does. Without --train-data the run only evaluates (--val-data, --imagenet-val, --imagenet-v2) and appends the metrics to checkpoints/results.jsonl, as open_clip_train.main does. ' +
    'With --dataset-type synthetic the run trains on generated coloured shapes and reports zero-shot accuracy on held-out ones.';
  static override examples = [
    '<%= config.bin %> train --dataset-type synthetic --train-num-samples 2048 --model ViT-Tiny-8-64-demo --batch-size 64 --epochs 4 --lr 1e-3 --warmup 20 --precision fp32',
    '<%= config.bin %> train --train-data data/train.csv --csv-img-key filepath --csv-caption-key title --model ViT-B-32 --precision fp32',
    '<%= config.bin %> train --train-data "shards/{00000..00009}.tar" --train-num-samples 10000 --dataset-type webdataset --model RN50 --precision fp32',
  ];
  static override flags = trainFlags();

  async run(): Promise<TrainResult> {
    const { flags } = await this.parse(Train);
    return this.train(flags as Record<string, unknown>);
  }

  /** Parses the OpenCLIP parameters, joins the distributed world if launched into one, and trains. */
  protected async train(flags: Record<string, unknown>): Promise<TrainResult> {
    const info = await this.startEngine(flags.backend as string | undefined, { quiet: true }); // runTraining logs the backend once
    let cfg;
    try {
      cfg = parseTrainConfig(givenTrainValues(flags), { supportedPrecisions: ['fp32'], backend: info.backend, notice: (l) => this.logToStderr(`openclip: ${l}`) });
    } catch (e) {
      if (e instanceof TrainConfigError) this.error(e.message, { exit: 2 });
      throw e;
    }
    let r: TrainRunResult;
    let transport: Collectives | null = null;
    try {
      // torchrun / SLURM / MPI / Kubernetes / openclip launch hand the world over in the environment
      const world = discoverWorld(process.env, cfg.distUrl);
      const backend = chooseBackend(cfg.distBackend, process.env, (l) => this.logToStderr(`openclip: ${l}`));
      if (world.worldSize > 1 || backend === 'mpi') {
        transport = await connectWorld(backend, world, transportOptionsFromEnv(world, process.env, (l) => process.stderr.write(`${l}\n`)));
      }
      r = await runTraining(cfg, { backend: flags.backend as string | undefined, transport, logLocal: cfg.logLocal, log: (l) => (this.jsonEnabled() ? process.stderr.write(`${l}\n`) : this.log(l)) });
    } catch (e) {
      this.error((e as Error).message, { exit: 1 });
    } finally {
      transport?.close();
    }
    return this.finish({
      name: r.name,
      logDir: r.logDir,
      steps: r.steps,
      checkpoints: r.checkpoints,
      metrics: r.metrics,
      epochs: r.epochs.map((e) => ({ epoch: e.epoch, meanLoss: e.meanLoss, samplesPerSecond: e.samplesPerSecond, metrics: e.metrics })),
    });
  }

  protected render(r: TrainResult): void {
    this.log(`\nfinished ${r.name}: ${r.steps} steps`);
    for (const e of r.epochs) this.log(`  epoch ${e.epoch}: mean loss ${e.meanLoss.toFixed(4)}, ${e.samplesPerSecond.toFixed(1)} samples/s`);
    for (const [k, v] of Object.entries(r.metrics)) this.log(`  ${k}: ${Number.isInteger(v) ? v : v.toFixed(4)}`);
    if (r.logDir) this.log(`logs, checkpoints and curves.html/png in ${r.logDir}`);
  }
}
