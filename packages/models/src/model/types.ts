/** The model surface shared by CLIP, CustomTextCLIP and CoCa (OpenCLIP's encode_image / encode_text / forward). */
import type { Rng, tf, Tensor } from '@openclip/engine';
import type { ModelConfig } from '../config/model-config.js';
import type { LoadStateDictOptions, LoadStateDictReport, StateDictInput } from './state-dict.js';

export interface EncodeOptions {
  /** L2-normalise the features (F.normalize, eps 1e-12). Default false, as in OpenCLIP. */
  normalize?: boolean;
}

/** OpenCLIP's forward dict (output_dict=True): normalised features, exp'd logit scale, optional bias. */
export interface ClipForwardOutput {
  imageFeatures: Tensor | null;
  textFeatures: Tensor | null;
  /** exp(logit_scale), a scalar (shape [1] with nonscalar_logit_scale). */
  logitScale: Tensor;
  logitBias?: Tensor;
  /** CoCa only: caption logits [B, T-1, vocab]. */
  logits?: Tensor;
  /** CoCa only: teacher-forcing labels (tokens[:, 1:]). */
  labels?: Tensor;
}

export type ModelClassName = 'CLIP' | 'CustomTextCLIP' | 'CoCa';

export interface OpenClipModel {
  readonly config: ModelConfig;
  readonly modelClass: ModelClassName;
  /** Parameters by exact OpenCLIP state-dict name, in PyTorch layouts. */
  readonly params: Map<string, tf.Variable>;
  /** Buffers (BatchNorm running stats, num_batches_tracked) by state-dict name. */
  readonly buffers: Map<string, tf.Variable>;
  /** Parameter names OpenCLIP creates with requires_grad=False. */
  readonly frozen: ReadonlySet<string>;
  readonly training: boolean;
  encodeImage(images: Tensor, options?: EncodeOptions): Tensor;
  encodeText(tokens: Tensor, options?: EncodeOptions): Tensor;
  forward(images: Tensor | null, tokens: Tensor | null): ClipForwardOutput;
  train(mode?: boolean): this;
  eval(): this;
  /**
   * OpenCLIP's lock_image_tower (LiT, `--lock-image`): freezes the image tower except its last
   * `unlockedGroups` layer groups; `freezeBnStats` keeps BatchNorm on its running statistics.
   * Throws, naming the model class, where OpenCLIP 3.1.0 cannot lock (CoCa has no lock_image_tower).
   */
  lockImageTower(unlockedGroups?: number, freezeBnStats?: boolean): void;
  /**
   * OpenCLIP's lock_text_tower (`--lock-text`): freezes the text tower except its last
   * `unlockedLayers` groups. As in OpenCLIP 3.1.0, `freezeLayerNorm` false is refused, and a model
   * class without lock_text_tower (CoCa) throws naming itself.
   */
  lockTextTower(unlockedLayers?: number, freezeLayerNorm?: boolean): void;
  /**
   * The random source of the image tower's train-mode layers (PatchDropout, drop path), or null
   * when it has none (ModifiedResNet): checkpoints save its state, and a replayed forward pass
   * restores it to draw the same masks.
   */
  readonly randomStream: Rng | null;
  /** OpenCLIP's set_grad_checkpointing; returns the towers whose blocks now recompute in the backward pass. */
  setGradCheckpointing(enable?: boolean): string[];
  /** Live parameters and buffers in PyTorch state_dict order (do not dispose them). */
  stateDict(): Map<string, tf.Variable>;
  loadStateDict(stateDict: StateDictInput, options?: LoadStateDictOptions): LoadStateDictReport;
  /** Parameter count (as `sum(p.numel() for p in model.parameters())`). */
  numParams(): number;
  dispose(): void;
}
