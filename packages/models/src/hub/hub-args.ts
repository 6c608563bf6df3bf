/**
 * The Hub's arguments as huggingface_hub checks them (repo ids, file names) and its offline switch
 * (`HF_HUB_OFFLINE`). The cache itself (folder, layout, lookups) is in `@openclip/common`.
 */

/** True for the values huggingface_hub accepts as "on" for boolean env vars. */
export function envFlag(name: string): boolean {
  const v = process.env[name];
  return v !== undefined && ['1', 'on', 'yes', 'true'].includes(v.trim().toLowerCase());
}

/** Whether `HF_HUB_OFFLINE` is set. */
export function hubOffline(): boolean {
  return envFlag('HF_HUB_OFFLINE');
}

export function validateRepoId(repoId: string): void {
  if (!/^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(repoId) || repoId.includes('..') || repoId.includes('--')) {
    throw new Error(`invalid Hugging Face repo id '${repoId}': expected 'org/name'`);
  }
}

export function validateFilename(filename: string): void {
  if (!filename || filename.startsWith('/') || filename.split('/').some((p) => p === '..' || p === '' || p === '.')) {
    throw new Error(`invalid file name '${filename}' in a Hugging Face repo`);
  }
}
