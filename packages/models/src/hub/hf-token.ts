/**
 * The Hugging Face access token as huggingface_hub's get_token finds it: `$HF_TOKEN`, then the
 * older `$HUGGING_FACE_HUB_TOKEN`, then the file `huggingface-cli login` writes (`$HF_TOKEN_PATH`,
 * else `$HF_HOME/token`, else `$XDG_CACHE_HOME/huggingface/token` / `~/.cache/huggingface/token`:
 * `hfTokenPath` of @openclip/common).
 * Downloads send it unless `HF_HUB_DISABLE_IMPLICIT_TOKEN` is set, as huggingface_hub does.
 */
import { existsSync, readFileSync } from 'node:fs';
import { hfTokenPath } from '@openclip/common';
import { envFlag } from './hub-args.js';

function clean(v: string | undefined): string | undefined {
  const t = v?.replace(/\r|\n/g, '').trim();
  return t ? t : undefined;
}

/** The token and where it came from, or null. */
export function hfToken(env: NodeJS.ProcessEnv = process.env): { token: string; source: string } | null {
  const fromEnv = clean(env.HF_TOKEN) ?? clean(env.HUGGING_FACE_HUB_TOKEN);
  if (fromEnv) return { token: fromEnv, source: clean(env.HF_TOKEN) ? 'HF_TOKEN' : 'HUGGING_FACE_HUB_TOKEN' };
  const path = hfTokenPath(env);
  if (!existsSync(path)) return null;
  const fromFile = clean(readFileSync(path, 'utf8'));
  return fromFile ? { token: fromFile, source: path } : null;
}

/** The token a download sends (none when HF_HUB_DISABLE_IMPLICIT_TOKEN is set). */
export function hfDownloadToken(): string | undefined {
  if (envFlag('HF_HUB_DISABLE_IMPLICIT_TOKEN')) return undefined;
  return hfToken()?.token;
}
