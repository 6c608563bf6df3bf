/**
 * OpenCLIP's `TimmModel` adapter: a timm trunk under `<prefix>.trunk.*` built as OpenCLIP builds
 * it from `timm_pool` / `timm_proj` / `timm_proj_bias`, plus OpenCLIP's own head under
 * `<prefix>.head.*` (`proj` Linear or `mlp`), and its `lock` (timm's layer groups).
 */
import { tf, Rng } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import type { VisionConfig } from '../../config/model-config.js';
import { join } from '../params.js';
import type { ParamStore } from '../params.js';
import type { ActivationHook } from '../vision-transformer.js';
import { timmBatchNormsUnder } from './timm-conv.js';
import { TimmEva } from './timm-eva.js';
import { TimmFastVit } from './timm-fastvit.js';
import { TimmRelPosTransformer } from './timm-relpos.js';
import { TimmLinear, TimmMlp, groupParameters } from './timm-layers.js';
import { timmModelSpec } from './timm-registry.js';
import type { TimmArgs, TimmFamily } from './timm-registry.js';
import { TimmConvNext } from './timm-convnext.js';
import { TimmSwin } from './timm-swin.js';
import { TimmVisionTransformer } from './timm-vit.js';
import type { TimmTrunkOptions } from './timm-vit.js';

export interface TimmModelOptions {
  /** The model's embed_dim. */
  outputDim: number;
  rng?: Rng;
  /** timm's `inference_mode` for a FastViT trunk (re-parameterised weights); an error for other families. */
  inferenceMode?: boolean;
}

export type TimmTrunk = TimmVisionTransformer | TimmEva | TimmRelPosTransformer | TimmFastVit | TimmConvNext | TimmSwin;

/** timm families whose constructor takes `drop_path_rate` here (OpenCLIP's timm_drop_path). */
const DROP_PATH_FAMILIES: readonly TimmFamily[] = ['vit', 'vitamin', 'fastvit', 'convnext', 'swin'];

const DEFAULT_INIT = { weight: undefined, bias: undefined };

export class TimmModel {
  readonly kind = 'timm' as const;
  readonly timmName: string;
  readonly trunk: TimmTrunk;
  readonly headProj: TimmLinear | null = null;
  readonly headMlp: TimmMlp | null = null;
  readonly outputDim: number;
  /** Random source of the trunk's PatchDropout and drop path in train mode. */
  readonly rng: Rng;
  private trainingMode = false;

  constructor(private readonly store: ParamStore, readonly prefix: string, cfg: VisionConfig, o: TimmModelOptions) {
    const name = cfg.timm_model_name;
    if (!name) throw new Error(`${prefix}: vision_cfg.timm_model_name is not set`);
    this.timmName = name;
    const spec = timmModelSpec(name);
    if (cfg.timm_model_pretrained) {
      throw new Error(`${prefix}: vision_cfg.timm_model_pretrained (timm's ImageNet weights) cannot be downloaded here; load an OpenCLIP checkpoint instead`);
    }
    if (cfg.timm_drop > 0) throw new Error(`${prefix}: vision_cfg.timm_drop ${cfg.timm_drop} (head dropout) is not supported; use 0`);
    const dropPathRate = cfg.timm_drop_path ?? 0;
    // OpenCLIP passes drop_path_rate to timm only when timm_drop_path is set; otherwise the class default applies
    // (0 for VisionTransformer and FastVit, which take the rate as a trunk option; 0.1 for SwinTransformer).
    const dropPathArg = cfg.timm_drop_path !== null && cfg.timm_drop_path !== undefined ? { drop_path_rate: cfg.timm_drop_path } : {};
    if (dropPathRate > 0 && !DROP_PATH_FAMILIES.includes(spec.family)) {
      throw new Error(`${prefix}: vision_cfg.timm_drop_path ${dropPathRate} (stochastic depth) is not supported for timm ${spec.family} towers (${name}); use 0 or null`);
    }
    const pool = cfg.timm_pool ?? '';
    if (pool === 'abs_attn' || pool === 'rot_attn') throw new Error(`${prefix}: timm_pool '${pool}' (OpenCLIP's attention-pool heads for CNN trunks) is not supported for ${name}`);
    const proj = cfg.timm_proj ?? '';
    if (proj && !['linear', 'mlp', 'none'].includes(proj)) throw new Error(`${prefix}: vision_cfg.timm_proj must be 'linear', 'mlp', 'none' or empty, got '${proj}'`);
    const extraProj = proj === 'linear' || proj === 'mlp';
    const size = typeof cfg.image_size === 'number' ? [cfg.image_size, cfg.image_size] as [number, number] : [cfg.image_size[0], cfg.image_size[1]] as [number, number];
    this.rng = o.rng ?? new Rng(0);
    const common = { imageSize: size, patchDropRate: cfg.patch_dropout > 0 ? cfg.patch_dropout : 0, dropPathRate, rng: this.rng };
    const trunkPrefix = join(prefix, 'trunk');
    // Without an extra projection: timm.create_model(name, num_classes=proj_dim, global_pool=pool), the pool a
    // constructor argument. With one: built with its defaults, then reset_classifier(0, global_pool=pool or unchanged).
    const poolArg = extraProj ? {} : { global_pool: pool };
    const trunkOptions: TimmTrunkOptions = extraProj
      ? { ...common, numClasses: 0, globalPool: pool || undefined }
      : { ...common, numClasses: proj === 'none' ? 0 : o.outputDim };
    if (o.inferenceMode && spec.family !== 'fastvit') {
      throw new Error(`${prefix}: re-parameterised (reparam_conv) weights need a timm FastViT trunk; ${name} is a timm ${spec.family} model`);
    }
    if (spec.family === 'fastvit') {
      if (common.patchDropRate > 0) throw new Error(`${prefix}: vision_cfg.patch_dropout is not supported by timm FastViT towers (${name})`);
      const fastvitOptions = extraProj
        ? { imageSize: size, numClasses: 0, globalPool: pool || undefined, dropPathRate, rng: common.rng }
        : { imageSize: size, numClasses: trunkOptions.numClasses, globalPool: pool, dropPathRate, rng: common.rng };
      this.trunk = new TimmFastVit(store, trunkPrefix, o.inferenceMode ? { ...spec.args, inference_mode: true } : spec.args, fastvitOptions);
    } else if (spec.family === 'convnext') {
      this.trunk = new TimmConvNext(store, trunkPrefix, { ...spec.args, ...poolArg, ...dropPathArg }, trunkOptions);
    } else if (spec.family === 'swin') {
      this.trunk = new TimmSwin(store, trunkPrefix, { ...spec.args, ...poolArg, ...dropPathArg }, trunkOptions);
    } else {
      const args: TimmArgs = { ...spec.args, ...poolArg };
      if (spec.family === 'vit' || spec.family === 'vitamin') this.trunk = new TimmVisionTransformer(store, trunkPrefix, args, trunkOptions);
      else if (spec.family === 'eva') this.trunk = new TimmEva(store, trunkPrefix, args, trunkOptions);
      else this.trunk = new TimmRelPosTransformer(store, trunkPrefix, args, trunkOptions);
    }
    let prev = this.trunk.numFeatures;
    if (proj === 'linear') {
      this.headProj = new TimmLinear(store, join(prefix, 'head.proj'), prev, o.outputDim, cfg.timm_proj_bias, DEFAULT_INIT);
      prev = o.outputDim;
    } else if (proj === 'mlp') {
      this.headMlp = new TimmMlp(store, join(prefix, 'head.mlp'), prev, 2 * o.outputDim, o.outputDim, 'gelu', { bias: [true, cfg.timm_proj_bias], init: DEFAULT_INIT });
      prev = o.outputDim;
    }
    this.outputDim = prev;
  }

  get training(): boolean {
    return this.trainingMode;
  }

  set training(mode: boolean) {
    this.trainingMode = mode;
    this.trunk.training = mode;
  }

  get imageSize(): [number, number] {
    return this.trunk.imageSize;
  }

  /** Image features [B, outputDim]; `hook` sees the trunk's activations. */
  forward(images: Tensor, hook?: ActivationHook): Tensor {
    const [h, w] = this.trunk.imageSize;
    if (images.rank !== 4 || images.shape[1] !== 3) throw new Error(`${this.prefix}: expected NCHW images [B, 3, ${h}, ${w}], got [${images.shape}]`);
    if (images.shape[2] !== h || images.shape[3] !== w) {
      throw new Error(`${this.prefix}: images are ${images.shape[2]}x${images.shape[3]} but the model was built for ${h}x${w} (vision_cfg.image_size; use forceImageSize to change it)`);
    }
    return tf.tidy(() => {
      let x = this.trunk.forward(images, hook);
      if (this.headProj) x = this.headProj.apply(x);
      if (this.headMlp) x = this.headMlp.apply(x);
      return x;
    });
  }

  /** Frees tensors the trunk holds outside the parameter store (RoPE tables). */
  dispose(): void {
    if (!(this.trunk instanceof TimmVisionTransformer)) this.trunk.dispose();
  }

  /** The trunk's parameter names (relative to `<prefix>.trunk.`) in timm's layer groups. */
  trunkGroups(): string[][] {
    const p = `${this.prefix}.trunk.`;
    const names = [...this.store.params.keys()].filter((n) => n.startsWith(p)).map((n) => n.slice(p.length));
    return groupParameters(names, this.trunk.groupRules()).map((g) => g.map((n) => p + n));
  }

  /**
   * OpenCLIP's TimmModel.lock: unlocked 0 freezes the whole trunk; otherwise the trunk's timm
   * groups except the last `unlocked` are frozen. OpenCLIP's own head is never frozen. With
   * `freezeBnStats`, the trunk's BatchNorm layers in frozen groups keep their running statistics
   * in train mode (freeze_batch_norm_2d).
   */
  lock(unlocked: number, freezeBnStats = false): { freeze: string[] } {
    const groups = this.trunkGroups();
    const freeze = !unlocked ? groups.flat() : groups.slice(0, Math.max(0, groups.length - unlocked)).flat();
    if (freezeBnStats) {
      const frozen = new Set(freeze);
      for (const bn of timmBatchNormsUnder(this.store, `${this.prefix}.trunk`)) if (frozen.has(`${bn.prefix}.weight`)) bn.frozen = true;
    }
    return { freeze };
  }
}
