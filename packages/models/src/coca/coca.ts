/**
 * OpenCLIP's `CoCa` (coca_model.py): a vision tower whose attentional pooler yields the contrastive
 * embedding (query 0) and the captioning tokens (queries 1..), an `embed_cls` text tower under
 * `text.`, and the multimodal decoder under `text_decoder.`; `forward` returns the normalised
 * features, `logit_scale` (exp'd), teacher-forcing caption `logits` and `labels` = tokens[:, 1:];
 * `generate` captions images (beam search, top-k / top-p sampling, greedy).
 */
import { tf, Rng } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import type { ModelConfig } from '../config/model-config.js';
import { cloneModelConfig, externalTowerReason } from '../config/model-config.js';
import { constant } from '../init/initializers.js';
import { buildVisionTower, l2Normalize } from '../model/clip.js';
import type { ModelBuildOptions } from '../model/clip.js';
import { registerModelBuilder } from '../model/create.js';
import { loadStateDictInto } from '../model/state-dict.js';
import type { LoadStateDictOptions, LoadStateDictReport, StateDictInput } from '../model/state-dict.js';
import type { ClipForwardOutput, EncodeOptions, ModelClassName, OpenClipModel } from '../model/types.js';
import { ParamStore } from '../towers/params.js';
import { TextTransformer } from '../towers/text-transformer.js';
import { VisionTransformer } from '../towers/vision-transformer.js';
import { generateTokens, resolveGenerateOptions } from './generate.js';
import type { GenerateOptions } from './generate.js';
import { MultimodalTransformer } from './multimodal-transformer.js';
import { setGradCheckpointing } from '../towers/grad-checkpoint.js';

export interface CoCaForwardOptions {
  /**
   * OpenCLIP's `output_labels` (default true): labels = tokens[:, 1:] and the decoder sees the token
   * embeddings without the last position (teacher forcing). False decodes every position, no labels.
   */
  outputLabels?: boolean;
}

export class CoCa implements OpenClipModel {
  readonly config: ModelConfig;
  readonly modelClass: ModelClassName = 'CoCa';
  readonly store: ParamStore;
  readonly logitScale: tf.Variable;
  readonly logitBias: tf.Variable | null;
  readonly text: TextTransformer;
  readonly visual: VisionTransformer;
  get randomStream(): Rng {
    return this.visual.rng;
  }
  readonly textDecoder: MultimodalTransformer;
  /** OpenCLIP's `pad_id` (0): the default pad token of `generate`. */
  readonly padId = 0;
  /** The decoder's context length (multimodal_cfg.context_length). */
  readonly contextLength: number;
  private trainingMode = false;

  constructor(config: ModelConfig, options: ModelBuildOptions = {}) {
    const reason = externalTowerReason(config);
    if (reason) throw new Error(reason);
    if (!config.multimodal_cfg) throw new Error('CoCa needs a multimodal_cfg (the text decoder config)');
    this.config = cloneModelConfig(config);
    const mm = this.config.multimodal_cfg!;
    const rng = new Rng(options.seed ?? 0);
    this.store = new ParamStore(options.initWeights === false ? null : rng);
    // state_dict order: CoCa's own parameters, then text, visual, text_decoder (registration order).
    const lshape = config.nonscalar_logit_scale ? [1] : [];
    this.logitScale = this.store.param('logit_scale', lshape, constant(config.init_logit_scale));
    this.logitBias = config.init_logit_bias === null ? null : this.store.param('logit_bias', lshape, constant(config.init_logit_bias));
    this.text = new TextTransformer(this.store, 'text', this.config.text_cfg, { outputDim: config.embed_dim, quickGelu: config.quick_gelu });
    // A separate stream for PatchDropout (derived without Rng.fork, whose state can overflow int32).
    const visual = buildVisionTower(this.store, 'visual', this.config, new Rng(rng.nextUint32()));
    if (!(visual instanceof VisionTransformer)) throw new Error('CoCa needs a VisionTransformer vision tower (vision_cfg.layers must be an integer)');
    this.visual = visual;
    this.textDecoder = new MultimodalTransformer(this.store, 'text_decoder', mm, { outputDim: this.config.text_cfg.vocab_size, quickGelu: config.quick_gelu });
    this.contextLength = mm.context_length;
  }

  get params(): Map<string, tf.Variable> {
    return new Map(this.store.order.filter((n) => this.store.params.has(n)).map((n) => [n, this.store.params.get(n)!]));
  }

  get buffers(): Map<string, tf.Variable> {
    return new Map(this.store.order.filter((n) => this.store.buffers.has(n)).map((n) => [n, this.store.buffers.get(n)!]));
  }

  get frozen(): ReadonlySet<string> {
    return this.store.frozen;
  }

  get training(): boolean {
    return this.trainingMode;
  }

  train(mode = true): this {
    this.trainingMode = mode;
    this.visual.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Contrastive image embedding [B, E] and the captioning tokens [B, queries-1, E] (`_encode_image`). */
  encodeImageWithTokens(images: Tensor, options: EncodeOptions = {}): { latent: Tensor; embs: Tensor } {
    return tf.tidy(() => {
      const { pooled, tokens } = this.visual.forwardWithTokens(images);
      return { latent: (options.normalize ?? true) ? l2Normalize(pooled) : pooled, embs: tokens };
    });
  }

  /** Text latent [B, E] and the decoder's token embeddings [B, L, W] (`_encode_text`). */
  encodeTextWithTokens(tokens: Tensor, options: EncodeOptions = {}): { latent: Tensor; embs: Tensor } {
    return tf.tidy(() => {
      const { pooled, tokens: embs } = this.text.forwardWithTokens(tokens);
      return { latent: (options.normalize ?? true) ? l2Normalize(pooled) : pooled, embs };
    });
  }

  /** Image features [B, E]; as OpenCLIP's CoCa.encode_image, normalised unless `normalize: false`. */
  encodeImage(images: Tensor, options: EncodeOptions = {}): Tensor {
    return tf.tidy(() => this.encodeImageWithTokens(images, options).latent);
  }

  /** Text features [B, E] from tokens [B, text context]; normalised unless `normalize: false` (as OpenCLIP's CoCa). */
  encodeText(tokens: Tensor, options: EncodeOptions = {}): Tensor {
    return tf.tidy(() => this.encodeTextWithTokens(tokens, options).latent);
  }

  /** Caption logits [B, T, vocab] for image tokens [B, N, W] and decoder token embeddings [B, T, W]. */
  decode(imageEmbs: Tensor, tokenEmbs: Tensor): Tensor {
    return this.textDecoder.apply(imageEmbs, tokenEmbs);
  }

  forward(images: Tensor | null, tokens: Tensor | null, options: CoCaForwardOptions = {}): ClipForwardOutput {
    const outputLabels = options.outputLabels ?? true;
    return tf.tidy(() => {
      const out: ClipForwardOutput = { imageFeatures: null, textFeatures: null, logitScale: tf.exp(this.logitScale) };
      if (this.logitBias) out.logitBias = tf.clone(this.logitBias);
      const img = images ? this.encodeImageWithTokens(images) : null;
      const txt = tokens ? this.encodeTextWithTokens(tokens) : null;
      if (img) out.imageFeatures = img.latent;
      if (txt) out.textFeatures = txt.latent;
      if (img && txt && tokens) {
        let embs = txt.embs;
        if (outputLabels) {
          const [b, l] = tokens.shape as [number, number];
          if (l < 2) throw new Error(`CoCa forward: teacher forcing needs at least 2 tokens per row, got ${l}`);
          out.labels = tf.slice(tokens, [0, 1], [b, l - 1]);
          embs = tf.slice(embs, [0, 0, 0], [b, embs.shape[1]! - 1, embs.shape[2]!]);
        }
        out.logits = this.textDecoder.apply(img.embs, embs);
      }
      return out as unknown as tf.TensorContainer;
    }) as unknown as ClipForwardOutput;
  }

  /**
   * Captions for images [B, 3, H, W]: token id rows starting with `<start_of_text>` (OpenCLIP's
   * `generate`; see GenerateOptions for the defaults: beam search, seqLen 30, minSeqLen 5).
   */
  async generate(images: Tensor, options: GenerateOptions = {}): Promise<number[][]> {
    const o = resolveGenerateOptions(options, { padTokenId: this.padId, contextLength: this.contextLength });
    const wasTraining = this.training;
    this.eval();
    const imageEmbs = tf.tidy(() => this.encodeImageWithTokens(images).embs);
    try {
      const next = async (tokens: Int32Array, source: number[], len: number): Promise<Float32Array> => {
        const logits = tf.tidy(() => {
          const t = tf.tensor2d(tokens, [source.length, len], 'int32');
          const { embs } = this.encodeTextWithTokens(t);
          const rows = tf.gather(imageEmbs, tf.tensor1d(source, 'int32'));
          return this.textDecoder.lastLogits(rows, embs);
        });
        try {
          return (await logits.data()) as Float32Array;
        } finally {
          logits.dispose();
        }
      };
      return await generateTokens(next, images.shape[0]!, o);
    } finally {
      imageEmbs.dispose();
      this.train(wasTraining);
    }
  }

  /** Refused: OpenCLIP 3.1.0's CoCa has no lock_image_tower (its `--lock-image` stops with an AttributeError). */
  lockImageTower(): void {
    throw new Error("CoCa cannot lock its image tower: OpenCLIP 3.1.0's CoCa has no lock_image_tower (only CLIP and CustomTextCLIP models do)");
  }

  /** Refused: OpenCLIP 3.1.0's CoCa has no lock_text_tower (its `--lock-text` stops with an AttributeError). */
  lockTextTower(): void {
    throw new Error("CoCa cannot lock its text tower: OpenCLIP 3.1.0's CoCa has no lock_text_tower (only CLIP and CustomTextCLIP models do)");
  }

  /** OpenCLIP's set_grad_checkpointing: the vision, text and decoder blocks recompute in the backward pass. */
  setGradCheckpointing(enable = true): string[] {
    return setGradCheckpointing([['visual', this.visual], ['text', this.text], ['text_decoder', this.textDecoder]], enable);
  }

  stateDict(): Map<string, tf.Variable> {
    return new Map(this.store.order.map((n) => [n, (this.store.params.get(n) ?? this.store.buffers.get(n))!]));
  }

  loadStateDict(stateDict: StateDictInput, options: LoadStateDictOptions = {}): LoadStateDictReport {
    return loadStateDictInto(this.store, stateDict, options);
  }

  numParams(): number {
    let n = 0;
    for (const v of this.store.params.values()) n += v.size;
    return n;
  }

  dispose(): void {
    this.textDecoder.dispose();
    this.store.dispose();
  }
}

registerModelBuilder('CoCa', (config, options) => new CoCa(config, options));
