import { Flags } from '@oclif/core';
import Train, { type TrainResult } from './train.js';

export default class Distill extends Train {
  static override summary = 'Distil a teacher into a student: openclip train with --distill-model and --distill-pretrained required';
  static override description =
    'The teacher runs frozen; DistillClipLoss (contrastive loss plus the soft cross-entropy against the teacher\'s logits) trains the student, with checkpoints and logs as in training. Every openclip train flag applies.';
  static override examples = [
    '<%= config.bin %> distill --distill-model ViT-Tiny-8-64-demo --distill-pretrained logs/teacher/checkpoints/epoch_8.safetensors --model ViT-Tiny-8-64-demo --dataset-type synthetic --train-num-samples 2048 --precision fp32',
  ];
  static override flags = {
    ...Train.flags,
    'distill-model': Flags.string({ description: 'teacher model (built-in name or model-config JSON)', required: true, helpGroup: 'DISTILLATION' }),
    'distill-pretrained': Flags.string({ description: 'teacher weights: tag, hf-hub:, local-dir: or checkpoint file', required: true, helpGroup: 'DISTILLATION' }),
  };

  override async run(): Promise<TrainResult> {
    const { flags } = await this.parse(Distill);
    return this.train(flags as Record<string, unknown>);
  }
}
