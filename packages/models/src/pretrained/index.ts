// @openclip/models/pretrained: the model-config and pretrained registries without any tensor code
// (the hub cache lookups are @openclip/common's), for commands that must start fast (`openclip list-models`,
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
export type { PretrainedCfg, PretrainedInfo, PretrainedEntry, Architecture, Interpolation } from './pretrained.js';
export { hubOffline } from '../hub/hub-args.js';
