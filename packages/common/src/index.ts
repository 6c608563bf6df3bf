// @openclip/common: tensor-free helpers every package shares; it imports nothing of the project.

// "Did you mean" suggestions (one edit distance, one ranking)
export { editDistance, nearestNames, didYouMean } from './did-you-mean.js';
export type { NearestOptions } from './did-you-mean.js';

// Atomic file writes (temporary file, fsync, rename) and the names of their temporary files
export { writeFileAtomic, atomicTemporaryOwner } from './atomic-write.js';

// The Hugging Face Hub's folders shared with Python (home, cache, login token; refs/ and snapshots/ lookups)
export { hfHomeDir, hfHubCacheDir, hfTokenPath, repoFolderName, lookupCache, REGEX_COMMIT_HASH } from './hub-cache.js';
export type { CacheLookup, CacheLookupOptions } from './hub-cache.js';
export { parseHfHubSpec } from './hub-spec.js';

// OpenCLIP's constants (open_clip/constants.py: normalisation, the file names of a Hub repo) and torch's AdamW defaults
export {
  OPENAI_DATASET_MEAN, OPENAI_DATASET_STD, IMAGENET_MEAN, IMAGENET_STD, INCEPTION_MEAN, INCEPTION_STD,
  HF_WEIGHTS_NAME, HF_SAFE_WEIGHTS_NAME, HF_CONFIG_NAME, TORCH_ADAMW_DEFAULTS,
} from './constants.js';
export { safeAlternatives } from './weight-files.js';
