/** OpenCLIP's way of naming a Hugging Face repo in a model or tokenizer name: `hf-hub:org/name[@revision]`. */

/**
 * The repo id and revision of `hf-hub:org/name@revision` (the prefix and the revision are
 * optional; the revision is everything after the first `@`, and an empty one means the default).
 */
export function parseHfHubSpec(spec: string): { repoId: string; revision?: string } {
  const body = spec.replace(/^hf-hub:/, '');
  const at = body.indexOf('@');
  return at < 0 ? { repoId: body } : { repoId: body.slice(0, at), revision: body.slice(at + 1) || undefined };
}
