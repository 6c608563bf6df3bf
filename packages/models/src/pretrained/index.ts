// @openclip/models/pretrained: the model-config and pretrained registries and hub-cache lookups
// without any tensor code, for commands that must start fast (`openclip list-models`,
// `openclip list-pretrained`). Also re-exported from the package root.
export { listModels, addModelConfig } from '../config/registry.js';
export {
  listPretrained,
  listPretrainedTagsByModel,
  listPretrainedModelsByTag,
  isPretrainedCfg,
  getPretrainedCfg,
  listPretrainedInfo,
  cleanTag,
  splitHfHub,
} from './pretrained.js';
export type { PretrainedCfg, PretrainedInfo, PretrainedEntry, Architecture, Interpolation, ResizeMode } from './pretrained.js';
export {
  OPENAI_DATASET_MEAN,
  OPENAI_DATASET_STD,
  IMAGENET_MEAN,
  IMAGENET_STD,
  INCEPTION_MEAN,
  INCEPTION_STD,
} from './pretrained-table.js';
export { hfHubCacheDir, lookupCache, repoFolderName, hubOffline } from '../hub/hf-cache.js';
export type { CacheLookup } from '../hub/hf-cache.js';
