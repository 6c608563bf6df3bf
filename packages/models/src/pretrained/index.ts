// @openclip/models/pretrained: the pretrained registry and hub-cache lookups without any tensor
// code, for commands that must start fast (`openclip list-pretrained`). Also re-exported from
// the package root.
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
