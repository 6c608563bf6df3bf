/** What the rooms of a training run built, handed to the epoch loop and the end-of-epoch work. */
import type { DataLoader } from '@openclip/data';
import type { OpenClipModel } from '@openclip/models';
import type { TextTokenizer } from '@openclip/tokenizer';
import type { TrainConfig } from '../config/train-config.js';
import type { TensorBoardWriter } from '../logging/tensorboard.js';
import type { AdamW } from '../optim/adamw.js';
import type { LrSchedule } from '../scheduler/lr-schedule.js';
import type { EvalData } from './build-data.js';
import type { Stepper } from './build-optimizer.js';
import type { RunPosition } from './resume.js';
import type { RunSetup } from './setup.js';

export interface RunContext {
  cfg: TrainConfig;
  setup: RunSetup;
  model: OpenClipModel;
  tokenizer: TextTokenizer;
  optimizer: AdamW;
  step: Stepper;
  schedule: LrSchedule;
  stepsPerEpoch: number;
  train: DataLoader;
  evalData: EvalData;
  /** TensorBoard scalars (--report-to tensorboard, rank 0). */
  tb: TensorBoardWriter | null;
  /** Advanced by every step. */
  at: RunPosition;
  /** Stop after this many optimizer steps in total (TrainRunOptions.maxSteps). */
  maxSteps?: number;
}
