// @openclip/models/hub: Hugging Face Hub download into the cache shared with Python, and the
// resolution of OpenCLIP's `pretrained` argument, without any tensor code. Also re-exported
// from the package root.
export { hfHubDownload, hubEndpoint, HubError } from './hf-download.js';
export type { HubDownloadOptions, DownloadProgress } from './hf-download.js';
export { hubOffline, envFlag } from './hub-args.js';
export { hfToken, hfDownloadToken } from './hf-token.js';
export {
  resolvePretrained,
  downloadPretrainedFromHf,
  LOCAL_DIR_CHECKPOINT_NAMES,
} from './resolve-pretrained.js';
export type { PretrainedLocation, OpenClipConfigFile } from './resolve-pretrained.js';
export { downloadHfTokenizer, TOKENIZER_FILES, TOKENIZER_DOWNLOAD_FILES } from './hf-tokenizer-download.js';
export { writeHubFolder, pushFolderToHub, modelCard } from './push-to-hub.js';
export type { HubFolderOptions, PushOptions } from './push-to-hub.js';
