/**
 * huggingface_hub's `hf_hub_download` for Node: one file of a model repo into the cache layout
 * shared with Python (see hub-cache.ts of @openclip/common). Metadata comes from a HEAD on
 * `<endpoint>/<repo>/resolve/<revision>/<file>` (X-Repo-Commit, X-Linked-Etag/ETag,
 * X-Linked-Size); the bytes are fetched with `@huggingface/hub`'s `downloadFile` (range requests),
 * appended to `blobs/<etag>.incomplete` so an interrupted download resumes, checked against the
 * etag (sha256 for LFS files, git blob sha1 otherwise), renamed into `blobs/` and linked from
 * `snapshots/<commit>/`. `HF_HUB_OFFLINE=1` (or `offline`) uses the cache only; `HF_ENDPOINT`
 * picks the hub; `HF_TOKEN` authenticates.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, openSync, closeSync, writeSync, renameSync, rmSync, statSync, symlinkSync, copyFileSync, writeFileSync, ftruncateSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { downloadFile } from '@huggingface/hub';
import { hfHubCacheDir, lookupCache, REGEX_COMMIT_HASH, repoFolderName } from '@openclip/common';
import { hubOffline, validateFilename, validateRepoId } from './hub-args.js';
import { hfDownloadToken } from './hf-token.js';
import { withBlobLock } from './hub-lock.js';

export interface DownloadProgress {
  repoId: string;
  filename: string;
  /** Bytes on disk so far (including a resumed partial file). */
  downloaded: number;
  total: number;
  resumedFrom: number;
}

export interface HubDownloadOptions {
  /** Branch, tag or commit (default `main`). */
  revision?: string;
  /** Cache folder (default: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`). */
  cacheDir?: string;
  /** Hub URL (default `$HF_ENDPOINT`, else https://huggingface.co). */
  endpoint?: string;
  /** Access token (default: $HF_TOKEN, $HUGGING_FACE_HUB_TOKEN or the `huggingface-cli login` token file; see hf-token.ts). */
  token?: string;
  /** Use the cache only (default: `$HF_HUB_OFFLINE`). */
  offline?: boolean;
  onProgress?: (p: DownloadProgress) => void;
  /** Custom fetch (tests, proxies). */
  fetch?: typeof fetch;
}

export class HubError extends Error {
  constructor(message: string, readonly code: 'EntryNotFound' | 'RepoNotFound' | 'RevisionNotFound' | 'Offline' | 'Http' | 'Connection' | 'Checksum' | 'Protocol') {
    super(message);
    this.name = 'HubError';
  }
}

export function hubEndpoint(endpoint?: string): string {
  return (endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
}

function resolveUrl(endpoint: string, repoId: string, revision: string, filename: string): string {
  return `${endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/${filename.split('/').map(encodeURIComponent).join('/')}`;
}

function normalizeEtag(etag: string | null): string | undefined {
  if (!etag) return undefined;
  return etag.replace(/^W\//, '').replace(/^"+|"+$/g, '');
}

interface FileMetadata {
  commit: string;
  etag: string;
  size: number;
}

/** HEAD request as huggingface_hub's get_hf_file_metadata: follows relative redirects only. */
async function fileMetadata(url: string, ctx: { repoId: string; filename: string; revision: string; token?: string; fetch: typeof fetch }): Promise<FileMetadata> {
  const headers: Record<string, string> = { 'Accept-Encoding': 'identity', 'User-Agent': 'openclip-ts; hf_hub' };
  if (ctx.token) headers.Authorization = `Bearer ${ctx.token}`;
  let current = url;
  let seenCommit: string | undefined; // a relative redirect (e.g. to /api/resolve-cache/...) may drop X-Repo-Commit
  for (let hop = 0; hop < 5; hop++) {
    const resp = await ctx.fetch(current, { method: 'HEAD', headers, redirect: 'manual' });
    seenCommit = resp.headers.get('x-repo-commit') ?? seenCommit;
    const code = resp.headers.get('x-error-code');
    const where = `${ctx.repoId}/${ctx.filename} (revision ${ctx.revision})`;
    if (resp.status >= 300 && resp.status < 400) {
      const loc = resp.headers.get('location');
      const commit = resp.headers.get('x-repo-commit');
      const etag = normalizeEtag(resp.headers.get('x-linked-etag') ?? resp.headers.get('etag'));
      const size = Number(resp.headers.get('x-linked-size') ?? resp.headers.get('content-length'));
      // An LFS redirect to the CDN carries the metadata itself; a relative redirect (renamed repo) is followed.
      if (commit && etag && Number.isFinite(size) && resp.headers.get('x-linked-etag')) return { commit, etag, size };
      if (!loc) throw new HubError(`${where}: redirect without a Location header`, 'Protocol');
      if (/^https?:\/\//i.test(loc) && new URL(loc).origin !== new URL(current).origin) {
        throw new HubError(`${where}: redirected to another host (${new URL(loc).origin}) without file metadata`, 'Protocol');
      }
      current = new URL(loc, current).toString();
      continue;
    }
    if (resp.status === 404 && code === 'EntryNotFound') {
      throw Object.assign(new HubError(`${where}: the file does not exist in the repo`, 'EntryNotFound'), { commit: resp.headers.get('x-repo-commit') ?? undefined });
    }
    if (code === 'RevisionNotFound') throw new HubError(`${where}: revision '${ctx.revision}' not found`, 'RevisionNotFound');
    if (code === 'RepoNotFound' || resp.status === 401 || (resp.status === 404 && !code)) {
      throw new HubError(`${where}: repository '${ctx.repoId}' not found or not accessible${ctx.token ? '' : ' (set HF_TOKEN or run huggingface-cli login for a private or gated repo)'}`, 'RepoNotFound');
    }
    if (!resp.ok) throw new HubError(`${where}: HTTP ${resp.status} ${resp.statusText} from ${current}`, 'Http');
    const commit = resp.headers.get('x-repo-commit') ?? seenCommit;
    const etag = normalizeEtag(resp.headers.get('x-linked-etag') ?? resp.headers.get('etag'));
    const size = Number(resp.headers.get('x-linked-size') ?? resp.headers.get('content-length'));
    if (!commit || !etag || !Number.isFinite(size)) {
      throw new HubError(`${where}: the server did not send X-Repo-Commit / ETag / size headers (is ${url} a Hugging Face Hub endpoint?)`, 'Protocol');
    }
    return { commit, etag, size };
  }
  throw new HubError(`${ctx.repoId}/${ctx.filename}: too many redirects`, 'Protocol');
}

function linkPointer(blob: string, pointer: string): void {
  mkdirSync(dirname(pointer), { recursive: true });
  rmSync(pointer, { force: true });
  try {
    symlinkSync(relative(dirname(pointer), blob), pointer);
  } catch {
    copyFileSync(blob, pointer); // filesystems without symlinks (as huggingface_hub does)
  }
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/**
 * Downloads `filename` of model repo `repoId` into the shared cache (or finds it there) and
 * returns the snapshot path. Throws HubError with code EntryNotFound when the repo lacks the file.
 */
export async function hfHubDownload(repoId: string, filename: string, options: HubDownloadOptions = {}): Promise<string> {
  validateRepoId(repoId);
  validateFilename(filename);
  const revision = options.revision ?? 'main';
  const cacheDir = hfHubCacheDir(options.cacheDir);
  const repoDir = join(cacheDir, repoFolderName(repoId));
  const offline = options.offline ?? hubOffline();
  const fromCache = () => {
    const hit = lookupCache(repoId, filename, { revision, cacheDir });
    if (hit.status === 'cached') return hit.path;
    if (hit.status === 'missing-on-hub') throw new HubError(`${repoId}/${filename} (revision ${revision}): the file does not exist in the repo (cached answer)`, 'EntryNotFound');
    return undefined;
  };
  if (offline) {
    const p = fromCache();
    if (p) return p;
    throw new HubError(
      `${repoId}/${filename} (revision ${revision}) is not in the Hugging Face cache ${cacheDir}, and offline mode (HF_HUB_OFFLINE=1) forbids downloading it: run once with network access, or point --cache-dir / HF_HUB_CACHE at a cache that has it`,
      'Offline',
    );
  }
  if (REGEX_COMMIT_HASH.test(revision)) {
    const p = fromCache();
    if (p) return p;
  }
  const endpoint = hubEndpoint(options.endpoint);
  const token = options.token ?? hfDownloadToken();
  const f = options.fetch ?? fetch;
  const url = resolveUrl(endpoint, repoId, revision, filename);
  let meta: FileMetadata;
  try {
    meta = await fileMetadata(url, { repoId, filename, revision, token, fetch: f });
  } catch (e) {
    if (e instanceof HubError) {
      const commit = (e as HubError & { commit?: string }).commit;
      if (e.code === 'EntryNotFound' && commit) {
        mkdirSync(join(repoDir, '.no_exist', commit, dirname(filename)), { recursive: true });
        writeFileSync(join(repoDir, '.no_exist', commit, filename), '');
        if (!REGEX_COMMIT_HASH.test(revision)) writeRef(repoDir, revision, commit);
      }
      throw e;
    }
    // Network failure: fall back to the cache, as huggingface_hub does.
    const p = fromCache();
    if (p) return p;
    throw new HubError(`cannot reach the Hugging Face Hub at ${endpoint} for ${repoId}/${filename} (${(e as Error).message}); the file is not cached. Set HF_ENDPOINT for a mirror, or HF_HUB_OFFLINE=1 with a populated cache`, 'Connection');
  }
  if (!REGEX_COMMIT_HASH.test(revision)) writeRef(repoDir, revision, meta.commit);
  const pointer = join(repoDir, 'snapshots', meta.commit, filename);
  const blob = join(repoDir, 'blobs', meta.etag);
  if (existsSync(pointer)) return pointer;
  if (existsSync(blob)) {
    linkPointer(blob, pointer);
    return pointer;
  }
  mkdirSync(dirname(blob), { recursive: true });
  // One writer per blob across processes (every rank of a distributed run, or Python beside us).
  await withBlobLock(cacheDir, repoId, meta.etag, blob, async () => {
    if (existsSync(blob)) return; // another process finished it while we waited
    const incomplete = `${blob}.incomplete`;
    await fetchToIncomplete(incomplete, meta, { repoId, filename, endpoint, token, fetch: f, onProgress: options.onProgress });
    renameSync(incomplete, blob);
  });
  linkPointer(blob, pointer);
  return pointer;
}

function writeRef(repoDir: string, revision: string, commit: string): void {
  const ref = join(repoDir, 'refs', revision);
  mkdirSync(dirname(ref), { recursive: true });
  writeFileSync(ref, commit);
}

async function fetchToIncomplete(
  incomplete: string,
  meta: FileMetadata,
  ctx: { repoId: string; filename: string; endpoint: string; token?: string; fetch: typeof fetch; onProgress?: (p: DownloadProgress) => void },
): Promise<void> {
  let have = existsSync(incomplete) ? statSync(incomplete).size : 0;
  if (have > meta.size) {
    rmSync(incomplete);
    have = 0;
  }
  const isSha256 = /^[0-9a-f]{64}$/.test(meta.etag);
  const isGitSha1 = /^[0-9a-f]{40}$/.test(meta.etag);
  const newHash = () => {
    if (isSha256) return createHash('sha256');
    const h = createHash('sha1');
    if (isGitSha1) h.update(`blob ${meta.size}\0`);
    return h;
  };
  let hash = newHash();
  if (have > 0) await hashFile(incomplete, hash);
  const resumedFrom = have;
  // Record the status of the data request: a server that ignores Range sends 200 with the whole file.
  let lastStatus = 0;
  const observingFetch: typeof fetch = async (input, init) => {
    const r = await ctx.fetch(input, init);
    lastStatus = r.status;
    return r;
  };
  if (have < meta.size) {
    const blob = await downloadFile({
      repo: ctx.repoId,
      path: ctx.filename,
      revision: meta.commit,
      hubUrl: ctx.endpoint,
      accessToken: ctx.token,
      fetch: observingFetch,
      xet: false,
      downloadInfo: { etag: meta.etag, size: meta.size, url: resolveUrl(ctx.endpoint, ctx.repoId, meta.commit, ctx.filename) },
    });
    if (!blob) throw new HubError(`${ctx.repoId}/${ctx.filename}: the file does not exist in the repo`, 'EntryNotFound');
    const fd = openSync(incomplete, 'a');
    try {
      const reader = blob.slice(have).stream().getReader();
      let first = true;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (first && have > 0 && lastStatus === 200) {
          // Range ignored: start over.
          ftruncateSync(fd, 0);
          have = 0;
          hash = newHash();
        }
        first = false;
        let off = 0;
        while (off < value.byteLength) off += writeSync(fd, value, off, value.byteLength - off);
        hash.update(value);
        have += value.byteLength;
        ctx.onProgress?.({ repoId: ctx.repoId, filename: ctx.filename, downloaded: have, total: meta.size, resumedFrom });
      }
    } finally {
      closeSync(fd);
    }
  }
  if (have !== meta.size) {
    throw new HubError(`${ctx.repoId}/${ctx.filename}: received ${have} of ${meta.size} bytes (kept ${incomplete} to resume)`, 'Connection');
  }
  if (isSha256 || isGitSha1) {
    const digest = hash.digest('hex');
    if (digest !== meta.etag) {
      rmSync(incomplete, { force: true });
      throw new HubError(`${ctx.repoId}/${ctx.filename}: checksum mismatch: downloaded ${isSha256 ? 'sha256' : 'git sha1'} ${digest}, the hub says ${meta.etag} (corrupted transfer; the partial file was deleted, retry)`, 'Checksum');
    }
  }
}
