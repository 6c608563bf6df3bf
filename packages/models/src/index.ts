// @openclip/models: OpenCLIP model configs, towers, CLIP / CustomTextCLIP / CoCa, checkpoints, factory.

// Model configs and registry
export {
  parseModelConfig,
  modelConfigToJson,
  externalTowerReason,
  cloneModelConfig,
  ModelConfigError,
  MODEL_CONFIG_KEYS,
} from './config/model-config.js';
export type { ModelConfig, VisionConfig, TextConfig, MultimodalConfig } from './config/model-config.js';
export {
  listModels,
  getModelConfig,
  hasModelConfig,
  addModelConfig,
  registerModelConfig,
  readModelConfigFile,
  modelConfigFile,
  builtinConfigDir,
  UnknownModelError,
} from './config/registry.js';

// Towers (building blocks for CLIP and CoCa)
export { ParamStore, join as joinParamName } from './towers/params.js';
export {
  LayerNorm,
  LayerScale,
  Linear,
  MultiheadAttention,
  CustomAttention,
  ResidualAttentionBlock,
  Transformer,
  activate,
  activationFor,
  resolveBlockType,
  blockOptionsFromConfig,
  initTransformerLikeText,
  splitHeads,
  mergeHeads,
} from './towers/layers.js';
export type { ActivationName, BlockOptions, BlockHook } from './towers/layers.js';
export { VisionTransformer, AttentionalPooler, sinCos2dPosEmbed, toPair } from './towers/vision-transformer.js';
export type { ActivationHook, VisionTowerOptions } from './towers/vision-transformer.js';
export { ModifiedResNet, Bottleneck, BatchNorm2d, AttentionPool2d, Conv2d } from './towers/modified-resnet.js';
export { TextTransformer, textPoolIndices } from './towers/text-transformer.js';
export { TimmModel } from './towers/timm/timm-model.js';
export type { TimmModelOptions, TimmTrunk } from './towers/timm/timm-model.js';
export { TimmVisionTransformer, globalPoolTokens, patchifyNchw, dropPatchTokens } from './towers/timm/timm-vit.js';
export { AttentionPoolLatent, TimmAttention, TimmBlock, TimmMlp, TimmLinear, groupParameters } from './towers/timm/timm-layers.js';
export type { GroupRule } from './towers/timm/timm-layers.js';
export {
  registerTimmModel,
  listTimmModels,
  hasTimmModel,
  timmModelReason,
  timmModelSpec,
  UnknownTimmModelError,
} from './towers/timm/timm-registry.js';
export type { TimmArgs, TimmFamily, TimmModelSpec } from './towers/timm/timm-registry.js';
export type { TextTowerOptions } from './towers/text-transformer.js';

// Weight initialisation
export {
  materialize,
  normal,
  uniform,
  zeros,
  ones,
  constant,
  torchDefaultWeight,
  torchDefaultBias,
  xavierUniform,
} from './init/initializers.js';
export type { InitSpec } from './init/initializers.js';

// CLIP models and createModel
export { CLIP, CustomTextCLIP, l2Normalize, buildVisionTower, lockImageTower, lockTextTower } from './model/clip.js';
export type { ModelBuildOptions, VisionTower } from './model/clip.js';
export { createModel, resolveModelConfig, registerModelBuilder } from './model/create.js';
export type { CreateModelOptions, ResolvedModelConfig, ModelBuilder } from './model/create.js';
export { loadStateDictInto, StateDictError } from './model/state-dict.js';
export type { StateDictInput, LoadStateDictOptions, LoadStateDictReport } from './model/state-dict.js';
export type { OpenClipModel, ClipForwardOutput, EncodeOptions, ModelClassName } from './model/types.js';

// CoCa: multimodal decoder, model, caption generation
export { CoCa } from './coca/coca.js';
export type { CoCaForwardOptions } from './coca/coca.js';
export { MultimodalTransformer, causalMask } from './coca/multimodal-transformer.js';
export type { MultimodalTransformerOptions } from './coca/multimodal-transformer.js';
export {
  GENERATION_TYPES,
  resolveGenerateOptions,
  generateTokens,
  generateBySampling,
  generateByBeamSearch,
  applyMinLength,
  applyRepetitionPenalty,
  applyTopK,
  applyTopP,
} from './coca/generate.js';
export type { GenerationType, GenerateOptions, ResolvedGenerateOptions, NextTokenLogits } from './coca/generate.js';

// Zero-shot classification
export { buildZeroShotClassifier, zeroShotLogits, accuracy, formatTemplate } from './zero-shot/zero-shot-classifier.js';
export type { Template, TextEncoder, ZeroShotClassifierOptions } from './zero-shot/zero-shot-classifier.js';
export { IMAGENET_CLASSNAMES, OPENAI_IMAGENET_TEMPLATES, SIMPLE_IMAGENET_TEMPLATES } from './zero-shot/imagenet-metadata.js';

// Factory: model + transforms + tokenizer, pretrained tags and checkpoint paths
export {
  createModelAndTransforms,
  createModelFromPretrained,
  getTokenizer,
  getTokenizerAsync,
  loadCheckpointInto,
  adaptStateDict,
  mergePreprocessConfig,
} from './factory/factory.js';
export type { FactoryOptions, ModelAndTransforms, GetTokenizerOptions, PretrainedPreprocess } from './factory/factory.js';
export { quickGeluMismatch } from './factory/quick-gelu-check.js';
export { cleanTag } from './pretrained/pretrained.js';

// Checkpoints: PyTorch pickles (zip + legacy), safetensors, trainer checkpoints, position-embedding resize
export { loadStateDict, loadModelCheckpoint, saveStateDict } from './checkpoint/checkpoint-file.js';
export type { LoadModelCheckpointOptions, LoadedModelCheckpoint, TrainerCheckpointInfo } from './checkpoint/checkpoint-file.js';
export { loadTorchCheckpoint, STORAGE_DTYPES, PyDict, isTuple } from './checkpoint/torch-load.js';
export type { TorchCheckpoint, PyTuple } from './checkpoint/torch-load.js';
export { saveTorchStateDict, serializeTorchCheckpoint, torchTuple } from './checkpoint/torch-save.js';
export type { TorchTensorView } from './checkpoint/torch-save.js';
export { CheckpointFormatError, ZipArchive } from './checkpoint/zip.js';
export { PickleError } from './checkpoint/pickle.js';
export { resizePosEmbed, resizeTextPosEmbed, interpolateGrid, interpolateRows, cubicCoefficients } from './checkpoint/pos-embed.js';
export type { ResizePosEmbedOptions, ResizeTextPosEmbedOptions } from './checkpoint/pos-embed.js';

// Pretrained registry and Hugging Face Hub download (also tensor-free as @openclip/models/pretrained and /hub;
// cleanTag of these modules is exported by the factory section above; the hub cache lookups are @openclip/common's)
export {
  listPretrained,
  listPretrainedTagsByModel,
  listPretrainedModelsByTag,
  isPretrainedCfg,
  getPretrainedCfg,
  listPretrainedInfo,
  splitHfHub,
} from './pretrained/index.js';
export type { PretrainedCfg, PretrainedInfo, PretrainedEntry, Architecture, Interpolation } from './pretrained/index.js';
export {
  hfHubDownload,
  hubEndpoint,
  HubError,
  hubOffline,
  resolvePretrained,
  downloadPretrainedFromHf,
  LOCAL_DIR_CHECKPOINT_NAMES,
  downloadHfTokenizer,
  TOKENIZER_FILES,
  TOKENIZER_DOWNLOAD_FILES,
} from './hub/index.js';
export type { HubDownloadOptions, DownloadProgress, PretrainedLocation, OpenClipConfigFile } from './hub/index.js';
