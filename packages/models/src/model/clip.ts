/**
 * OpenCLIP's `CLIP` (text tower unpacked at top level: `token_embedding.weight`, `transformer.*`,
 * `ln_final.*`, `text_projection`) and `CustomTextCLIP` (text tower under `text.`), with
 * `logit_scale` (init_logit_scale) and optional `logit_bias` (init_logit_bias).
 */
import { tf, Rng } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import type { ModelConfig } from '../config/model-config.js';
import { cloneModelConfig, externalTowerReason } from '../config/model-config.js';
import { constant } from '../init/initializers.js';
import { ModifiedResNet } from '../towers/modified-resnet.js';
import { ParamStore } from '../towers/params.js';
import { TextTransformer } from '../towers/text-transformer.js';
import { VisionTransformer } from '../towers/vision-transformer.js';
import { TimmModel } from '../towers/timm/timm-model.js';
import type { ActivationHook } from '../towers/vision-transformer.js';
import { loadStateDictInto } from './state-dict.js';
import type { LoadStateDictOptions, LoadStateDictReport, StateDictInput } from './state-dict.js';
import type { ClipForwardOutput, EncodeOptions, ModelClassName, OpenClipModel } from './types.js';
import { setGradCheckpointing } from '../towers/grad-checkpoint.js';

export interface ModelBuildOptions {
  /** Seed of the weight initialisation and of PatchDropout (default 0). */
  seed?: number;
  /** Draw OpenCLIP's random init (default true); false fills zeros/constants only (faster before loading weights). */
  initWeights?: boolean;
  /**
   * Build a timm FastViT vision trunk in timm's `inference_mode` (the re-parameterised structure a
   * checkpoint saved after `reparameterize_model` holds); the factory sets it when a checkpoint has
   * `visual.trunk.*.reparam_conv` keys.
   */
  timmInferenceMode?: boolean;
}

/** F.normalize(x, dim=-1): x / max(‖x‖₂, 1e-12). */
export function l2Normalize(x: Tensor): Tensor {
  return tf.tidy(() => tf.div(x, tf.maximum(tf.norm(x, 'euclidean', -1, true), 1e-12)));
}

/** A vision tower: OpenCLIP's native ViT or ModifiedResNet, or a timm trunk in OpenCLIP's TimmModel adapter. */
export type VisionTower = VisionTransformer | ModifiedResNet | TimmModel;

/** The vision tower OpenCLIP's `_build_vision_tower` picks: TimmModel for timm_model_name, ModifiedResNet for a 4-list of layers, else VisionTransformer. */
export function buildVisionTower(store: ParamStore, prefix: string, cfg: ModelConfig, rng: Rng, timmInferenceMode = false): VisionTower {
  const v = cfg.vision_cfg;
  if (v.timm_model_name) return new TimmModel(store, prefix, v, { outputDim: cfg.embed_dim, rng, inferenceMode: timmInferenceMode });
  if (timmInferenceMode) throw new Error(`${prefix}: re-parameterised (reparam_conv) weights need a timm FastViT vision tower, not OpenCLIP's own`);
  if (Array.isArray(v.layers)) return new ModifiedResNet(store, prefix, v, { outputDim: cfg.embed_dim });
  return new VisionTransformer(store, prefix, v, { outputDim: cfg.embed_dim, quickGelu: cfg.quick_gelu, rng });
}

/** Names ranked into PyTorch's state_dict order for the CLIP layout (own parameters first, then submodules). */
function clipRank(name: string): number {
  if (name === 'positional_embedding') return 0;
  if (name === 'text_projection') return 1;
  if (name === 'logit_scale') return 2;
  if (name === 'logit_bias') return 3;
  if (name.startsWith('visual.')) return 4;
  if (name.startsWith('transformer.')) return 5;
  if (name.startsWith('token_embedding.')) return 6;
  if (name.startsWith('ln_final.')) return 7;
  return 8;
}

function customTextRank(name: string): number {
  if (name === 'logit_scale') return 0;
  if (name === 'logit_bias') return 1;
  if (name.startsWith('visual.')) return 2;
  return 3;
}

export class CLIP implements OpenClipModel {
  readonly config: ModelConfig;
  readonly modelClass: ModelClassName;
  readonly store: ParamStore;
  readonly visual: VisionTower;
  get randomStream(): Rng | null {
    return this.visual instanceof ModifiedResNet ? null : this.visual.rng;
  }
  readonly text: TextTransformer;
  readonly logitScale: tf.Variable;
  readonly logitBias: tf.Variable | null;
  private trainingMode = false;
  private readonly orderedNames: string[];

  constructor(config: ModelConfig, options: ModelBuildOptions & { customText?: boolean } = {}) {
    const reason = externalTowerReason(config);
    if (reason) throw new Error(reason);
    this.config = cloneModelConfig(config);
    const custom = options.customText ?? config.custom_text;
    this.modelClass = custom ? 'CustomTextCLIP' : 'CLIP';
    if (!custom && config.text_cfg.embed_cls) {
      throw new Error('text_cfg.embed_cls needs the text tower under text.* (custom_text: true, as in CoCa); OpenCLIP\'s CLIP class cannot use it');
    }
    const seed = options.seed ?? 0;
    const rng = new Rng(seed);
    this.store = new ParamStore(options.initWeights === false ? null : rng);
    const lshape = config.nonscalar_logit_scale ? [1] : [];
    this.logitScale = this.store.param('logit_scale', lshape, constant(config.init_logit_scale));
    this.logitBias = config.init_logit_bias === null ? null : this.store.param('logit_bias', lshape, constant(config.init_logit_bias));
    // PatchDropout draws from its own stream, so init and training randomness do not interleave.
    this.visual = buildVisionTower(this.store, 'visual', config, new Rng(seed + (seed > 0 ? -1 : 1) * 0x9e3779b9), options.timmInferenceMode);
    this.text = new TextTransformer(this.store, custom ? 'text' : '', config.text_cfg, { outputDim: config.embed_dim, quickGelu: config.quick_gelu });
    const rank = custom ? customTextRank : clipRank;
    this.orderedNames = this.store.order
      .map((n, i) => ({ n, i, r: rank(n) }))
      .sort((a, b) => a.r - b.r || a.i - b.i)
      .map((x) => x.n);
  }

  get params(): Map<string, tf.Variable> {
    return new Map(this.orderedNames.filter((n) => this.store.params.has(n)).map((n) => [n, this.store.params.get(n)!]));
  }

  get buffers(): Map<string, tf.Variable> {
    return new Map(this.orderedNames.filter((n) => this.store.buffers.has(n)).map((n) => [n, this.store.buffers.get(n)!]));
  }

  get frozen(): ReadonlySet<string> {
    return this.store.frozen;
  }

  get training(): boolean {
    return this.trainingMode;
  }

  /** Train mode: PatchDropout active, BatchNorm on batch statistics. */
  train(mode = true): this {
    this.trainingMode = mode;
    this.visual.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Image features [B, E]; `hook` sees intermediate activations (see VisionTransformer). */
  encodeImage(images: Tensor, options: EncodeOptions = {}, hook?: ActivationHook): Tensor {
    return tf.tidy(() => {
      const f = this.visual instanceof ModifiedResNet ? this.visual.forward(images) : this.visual.forward(images, hook);
      return options.normalize ? l2Normalize(f) : f;
    });
  }

  /** Text features [B, E] from int32 tokens [B, context_length]. */
  encodeText(tokens: Tensor, options: EncodeOptions = {}, hook?: ActivationHook): Tensor {
    return tf.tidy(() => {
      const f = this.text.forward(tokens, hook);
      return options.normalize ? l2Normalize(f) : f;
    });
  }

  forward(images: Tensor | null, tokens: Tensor | null): ClipForwardOutput {
    return tf.tidy(() => {
      const out: ClipForwardOutput = {
        imageFeatures: images ? this.encodeImage(images, { normalize: true }) : null,
        textFeatures: tokens ? this.encodeText(tokens, { normalize: true }) : null,
        logitScale: tf.exp(this.logitScale),
      };
      if (this.logitBias) out.logitBias = tf.clone(this.logitBias);
      return out as unknown as tf.TensorContainer;
    }) as unknown as ClipForwardOutput;
  }

  /** OpenCLIP's get_logits: exp(logit_scale)·img_n·txt_nᵀ (+ logit_bias), and its transpose. */
  getLogits(images: Tensor, tokens: Tensor): { logitsPerImage: Tensor; logitsPerText: Tensor } {
    return tf.tidy(() => {
      const img = this.encodeImage(images, { normalize: true });
      const txt = this.encodeText(tokens, { normalize: true });
      let logits = tf.mul(tf.exp(this.logitScale), tf.matMul(img, txt, false, true));
      if (this.logitBias) logits = tf.add(logits, this.logitBias);
      return { logitsPerImage: logits, logitsPerText: tf.transpose(logits) };
    });
  }

  /**
   * OpenCLIP's lock_image_tower: freezes the vision tower, then unfreezes its last
   * `unlockedGroups` groups (ViT: [conv1, class/pos embedding, ln_pre], each block, [last block,
   * ln_post], proj; timm trunks: timm's layer groups, OpenCLIP's head stays trainable). ModifiedResNet
   * supports 0 only; `freezeBnStats` keeps its BatchNorm on running stats.
   */
  lockImageTower(unlockedGroups = 0, freezeBnStats = false): void {
    lockImageTower(this.store, this.visual, unlockedGroups, freezeBnStats);
  }

  /**
   * OpenCLIP's lock_text_tower: freezes the text tower, then unfreezes its last `unlockedLayers`
   * groups ([token/pos/cls embeddings], each block, [last block, ln_final], [text_projection]).
   */
  lockTextTower(unlockedLayers = 0, freezeLayerNorm = true): void {
    if (!freezeLayerNorm) throw new Error('lockTextTower: unfreezing LayerNorm is not supported (as in OpenCLIP 3.1.0)');
    lockTextTower(this.store, this.text, unlockedLayers);
  }

  /**
   * OpenCLIP's set_grad_checkpointing: transformer blocks recompute their activations in the
   * backward pass. Returns the towers it applies to; a ModifiedResNet image tower has none (as in OpenCLIP).
   */
  setGradCheckpointing(enable = true): string[] {
    return setGradCheckpointing([['visual', this.visual], ['text', this.text]], enable);
  }

  stateDict(): Map<string, tf.Variable> {
    return new Map(this.orderedNames.map((n) => [n, (this.store.params.get(n) ?? this.store.buffers.get(n))!]));
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
    if (this.visual instanceof TimmModel) this.visual.dispose();
    this.store.dispose();
  }
}

function setTrainable(store: ParamStore, names: Iterable<string>, trainable: boolean): void {
  for (const n of names) {
    const v = store.params.get(n);
    if (!v) continue;
    v.trainable = trainable;
    if (trainable) store.frozen.delete(n);
    else store.frozen.add(n);
  }
}

const under = (store: ParamStore, prefix: string) => [...store.params.keys()].filter((n) => n === prefix || n.startsWith(`${prefix}.`));

/** Freezes `tower`'s parameters and unfreezes the last `unlocked` groups, as OpenCLIP's VisionTransformer.lock / ModifiedResNet.lock. */
export function lockImageTower(store: ParamStore, tower: VisionTower, unlocked: number, freezeBnStats: boolean): void {
  const p = tower.prefix;
  if (tower instanceof TimmModel) {
    setTrainable(store, tower.lock(unlocked, freezeBnStats).freeze, false);
    return;
  }
  setTrainable(store, under(store, p), false);
  if (tower instanceof ModifiedResNet) {
    if (unlocked !== 0) throw new Error('lockImageTower: partial unlocking (unlocked groups > 0) is not supported for ModifiedResNet (as in OpenCLIP)');
    tower.freezeBnStats = freezeBnStats;
    return;
  }
  if (unlocked === 0) return;
  const t = `${p}.transformer.resblocks`;
  const nBlocks = tower.transformer.resblocks.length;
  const groups: string[][] = [
    [`${p}.conv1.weight`, `${p}.class_embedding`, `${p}.positional_embedding`, ...under(store, `${p}.ln_pre`)],
    ...Array.from({ length: nBlocks - 1 }, (_, i) => under(store, `${t}.${i}`)),
    [...under(store, `${t}.${nBlocks - 1}`), ...under(store, `${p}.ln_post`)],
    [`${p}.proj`],
  ];
  setTrainable(store, groups.slice(-unlocked).flat(), true);
}

/** Freezes the text tower and unfreezes its last `unlocked` groups, as OpenCLIP's lock_text_tower. */
export function lockTextTower(store: ParamStore, text: TextTransformer, unlocked: number): void {
  const p = text.prefix;
  const at = (n: string) => (p ? `${p}.${n}` : n);
  const textNames = [...store.params.keys()].filter((n) => (p ? n.startsWith(`${p}.`) : !n.startsWith('visual.') && n !== 'logit_scale' && n !== 'logit_bias'));
  setTrainable(store, textNames, false);
  if (unlocked === 0) return;
  const nBlocks = text.transformer.resblocks.length;
  const groups: string[][] = [[at('token_embedding.weight'), at('positional_embedding'), at('cls_emb')]];
  for (let i = 0; i < nBlocks - 1; i++) groups.push(under(store, at(`transformer.resblocks.${i}`)));
  if (nBlocks > 0) groups.push([...under(store, at(`transformer.resblocks.${nBlocks - 1}`)), ...under(store, at('ln_final'))]);
  groups.push(under(store, at('text_projection')));
  setTrainable(store, groups.slice(-Math.min(unlocked, groups.length)).flat(), true);
}



/** OpenCLIP's CustomTextCLIP: the same towers with the text tower's keys under `text.`. */
export class CustomTextCLIP extends CLIP {
  constructor(config: ModelConfig, options: ModelBuildOptions = {}) {
    super(config, { ...options, customText: true });
  }
}
