/**
 * A loopback stand-in for the Hugging Face Hub's file-serving endpoints, for tests: serves
 * `/<org>/<name>/resolve/<revision>/<file>` with the headers huggingface_hub clients read
 * (X-Repo-Commit, ETag / X-Linked-Etag / X-Linked-Size, X-Error-Code), redirects LFS files to a
 * `/cdn/<sha256>` URL, honours Range requests, and records every request. Faults can be
 * injected: cut a response after N bytes, corrupt a file's bytes, ignore Range; small files can
 * be redirected to a relative `/api/resolve-cache/...` URL as the Hub does.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubFile {
  content: Uint8Array;
  /** Served as an LFS file (sha256 etag, redirect to the CDN path). */
  lfs?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  range?: string;
  authorization?: string;
}

export interface HubFaults {
  /** Close the connection after this many body bytes, for the next `times` GETs of `file`. */
  cut?: { file: string; afterBytes: number; times: number };
  /** Serve different bytes than the etag describes for `file`. */
  corrupt?: string;
  /** Answer Range requests with 200 and the whole body. */
  ignoreRange?: boolean;
  /** Redirect small (non-LFS) files to a relative `/api/resolve-cache/...` URL without X-Repo-Commit, as the Hub does. */
  resolveCache?: boolean;
}

export class HubTestServer {
  readonly requests: RecordedRequest[] = [];
  readonly repos = new Map<string, { commit: string; files: Map<string, HubFile> }>();
  faults: HubFaults = {};
  private server: Server;
  url = '';

  constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  addRepo(repoId: string, files: Record<string, HubFile>, commit = createHash('sha1').update(repoId + Object.keys(files).join()).digest('hex')): string {
    this.repos.set(repoId, { commit, files: new Map(Object.entries(files)) });
    return commit;
  }

  static sha256(b: Uint8Array): string {
    return createHash('sha256').update(b).digest('hex');
  }

  static gitSha1(b: Uint8Array): string {
    return createHash('sha1').update(`blob ${b.byteLength}\0`).update(b).digest('hex');
  }

  private findBySha(sha: string): { name: string; file: HubFile } | undefined {
    for (const r of this.repos.values()) for (const [name, f] of r.files) if (HubTestServer.sha256(f.content) === sha) return { name, file: f };
    return undefined;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    this.requests.push({ method: req.method ?? 'GET', path, range: req.headers.range, authorization: req.headers.authorization });
    const cdn = path.match(/^\/cdn\/([0-9a-f]{64})$/);
    if (cdn) {
      const hit = this.findBySha(cdn[1]);
      if (!hit) return this.error(res, 404, 'EntryNotFound');
      return this.body(req, res, hit.name, hit.file.content, { ETag: `"${cdn[1]}"` });
    }
    const rc = path.match(/^\/api\/resolve-cache\/models\/([^/]+\/[^/]+)\/([0-9a-f]{40})\/(.+)$/);
    if (rc) {
      const f = this.repos.get(rc[1])?.files.get(rc[3]);
      if (!f) return this.error(res, 404, 'EntryNotFound');
      return this.body(req, res, rc[3], f.content, { ETag: `"${HubTestServer.gitSha1(f.content)}"` });
    }
    const m = path.match(/^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/);
    if (!m) return this.error(res, 404, 'RepoNotFound');
    const [, repoId, revision, file] = m;
    const repo = this.repos.get(repoId);
    if (!repo) return this.error(res, 401, 'RepoNotFound');
    if (revision !== 'main' && revision !== repo.commit) return this.error(res, 404, 'RevisionNotFound');
    const f = repo.files.get(file);
    const common = { 'X-Repo-Commit': repo.commit };
    if (!f) return this.error(res, 404, 'EntryNotFound', common);
    if (f.lfs) {
      const sha = HubTestServer.sha256(f.content);
      res.writeHead(302, { ...common, Location: `${this.url}/cdn/${sha}`, 'X-Linked-Etag': `"${sha}"`, 'X-Linked-Size': String(f.content.byteLength), 'Content-Length': '0' });
      res.end();
      return;
    }
    if (this.faults.resolveCache) {
      res.writeHead(307, { ...common, Location: `/api/resolve-cache/models/${repoId}/${repo.commit}/${file}`, ETag: `"${HubTestServer.gitSha1(f.content)}"`, 'Content-Length': '0' });
      res.end();
      return;
    }
    this.body(req, res, file, f.content, { ...common, ETag: `"${HubTestServer.gitSha1(f.content)}"` });
  }

  private error(res: ServerResponse, status: number, code: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { ...headers, 'X-Error-Code': code, 'Content-Type': 'text/plain' });
    res.end(code);
  }

  private body(req: IncomingMessage, res: ServerResponse, name: string, content: Uint8Array, headers: Record<string, string>): void {
    let data = Buffer.from(content);
    if (this.faults.corrupt === name) {
      data = Buffer.from(data);
      data[data.length >> 1] ^= 0x5a;
    }
    const total = data.length;
    let start = 0;
    let end = total - 1;
    let status = 200;
    const range = req.headers.range?.match(/^bytes=(\d+)-(\d*)$/);
    if (range && !this.faults.ignoreRange) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), total - 1) : total - 1;
      status = 206;
    }
    const slice = data.subarray(start, end + 1);
    const h: Record<string, string> = { ...headers, 'Accept-Ranges': 'bytes', 'Content-Length': String(slice.length), 'Content-Type': 'application/octet-stream' };
    if (status === 206) h['Content-Range'] = `bytes ${start}-${end}/${total}`;
    res.writeHead(status, h);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const cut = this.faults.cut;
    if (cut && cut.file === name && cut.times > 0) {
      cut.times--;
      res.write(slice.subarray(0, cut.afterBytes), () => res.destroy());
      return;
    }
    res.end(slice);
  }
}
