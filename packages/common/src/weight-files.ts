/** Which weight files stand for a requested one: OpenCLIP prefers a safetensors twin to a pickle. */
import { HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME } from './constants.js';

/** OpenCLIP `_get_safe_alternatives`: the safetensors names to try before the pickle `filename`. */
export function safeAlternatives(filename: string): string[] {
  if (filename === HF_WEIGHTS_NAME) return [HF_SAFE_WEIGHTS_NAME];
  if (filename.endsWith('.bin') || filename.endsWith('.pth')) return [`${filename.slice(0, -4)}.safetensors`];
  return [];
}
