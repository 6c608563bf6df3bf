/**
 * A loopback stand-in for the Hugging Face Hub's file-serving endpoints, for tests: serves
 * `/<org>/<name>/resolve/<revision>/<file>` with the headers huggingface_hub clients read
 * (X-Repo-Commit, ETag / X-Linked-Etag / X-Linked-Size, X-Error-Code), redirects LFS files to a
 * `/cdn/<sha256>` URL, honours Range requests, and records every request. Faults can be
 * injected: cut a response after N bytes, corrupt a file's bytes, ignore Range; small files can
 * be redirected to a relative `/api/resolve-cache/...` URL as the Hub does.
 *
 * It also takes uploads the way `@huggingface/hub`'s createRepo / uploadFiles send them: repo
 * creation, preupload (LFS for .safetensors/.bin/.pt), the LFS batch API with basic PUT uploads,
 * and the NDJSON commit endpoint. Each commit is recorded and its files become downloadable.
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

export interface RecordedCommit {
  repoId: string;
  summary: string;
  description?: string;
  /** Every file of the commit, regular and LFS, with its bytes. */
  files: Map<string, Uint8Array>;
  lfs: string[];
  authorization?: string;
}

export class HubTestServer {
  readonly requests: RecordedRequest[] = [];
  readonly commits: RecordedCommit[] = [];
  readonly created: { name: string; organization: string; private: boolean; authorization?: string }[] = [];
  /** Bearer token the upload endpoints require (none: anything goes). */
  requireToken: string | null = null;
  private readonly uploads = new Map<string, Uint8Array>();
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
    if (req.method === 'POST' || req.method === 'PUT') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          this.handleUpload(req, res, path, Buffer.concat(chunks));
        } catch (e) {
          this.error(res, 400, 'BadRequest', {});
          void e;
        }
      });
      return;
    }
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

  private json(res: ServerResponse, status: number, body: unknown): void {
    const data = Buffer.from(JSON.stringify(body));
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(data.length) });
    res.end(data);
  }

  private handleUpload(req: IncomingMessage, res: ServerResponse, path: string, body: Buffer): void {
    const auth = req.headers.authorization;
    const put = path.match(/^\/lfs-upload\/([0-9a-f]{64})$/);
    if (put && req.method === 'PUT') {
      if (HubTestServer.sha256(body) !== put[1]) return this.error(res, 400, 'BadLfsContent');
      this.uploads.set(put[1], new Uint8Array(body));
      res.writeHead(200, { 'Content-Length': '0' });
      res.end();
      return;
    }
    if (this.requireToken !== null && auth !== `Bearer ${this.requireToken}`) return this.error(res, 401, 'Unauthorized');
    if (path === '/api/repos/create') {
      const b = JSON.parse(body.toString('utf8'));
      const repoId = `${b.organization}/${b.name}`;
      this.created.push({ name: b.name, organization: b.organization, private: b.visibility === 'private', authorization: auth });
      if (this.repos.has(repoId)) return this.json(res, 409, { error: 'You already created this model repo', url: `${this.url}/${repoId}` });
      this.repos.set(repoId, { commit: '0'.repeat(40), files: new Map() });
      return this.json(res, 200, { url: `${this.url}/${repoId}`, id: repoId });
    }
    const pre = path.match(/^\/api\/models\/([^/]+\/[^/]+)\/preupload\/([^/]+)$/);
    if (pre) {
      if (!this.repos.has(pre[1])) return this.error(res, 404, 'RepoNotFound');
      const b = JSON.parse(body.toString('utf8')) as { files: { path: string; size: number }[] };
      return this.json(res, 200, { files: b.files.map((f) => ({ path: f.path, uploadMode: /\.(safetensors|bin|pt)$/.test(f.path) ? 'lfs' : 'regular' })) });
    }
    const batch = path.match(/^\/([^/]+\/[^/]+)\.git\/info\/lfs\/objects\/batch$/);
    if (batch) {
      const b = JSON.parse(body.toString('utf8')) as { operation: string; objects: { oid: string; size: number }[] };
      if (b.operation !== 'upload') return this.error(res, 400, 'BadRequest');
      return this.json(res, 200, {
        transfer: 'basic',
        objects: b.objects.map((o) => ({ oid: o.oid, size: o.size, authenticated: true, actions: { upload: { href: `${this.url}/lfs-upload/${o.oid}`, expires_in: 3600 } } })),
      });
    }
    const commit = path.match(/^\/api\/models\/([^/]+\/[^/]+)\/commit\/([^/]+)$/);
    if (commit) {
      const repo = this.repos.get(commit[1]);
      if (!repo) return this.error(res, 404, 'RepoNotFound');
      const lines = body.toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { key: string; value: Record<string, unknown> });
      const header = lines.find((l) => l.key === 'header');
      const rec: RecordedCommit = { repoId: commit[1], summary: String(header?.value.summary ?? ''), description: header?.value.description as string | undefined, files: new Map(), lfs: [], authorization: auth };
      for (const l of lines) {
        if (l.key === 'file') {
          const v = l.value as { path: string; content: string; encoding: string };
          rec.files.set(v.path, new Uint8Array(Buffer.from(v.content, v.encoding === 'base64' ? 'base64' : 'utf8')));
        } else if (l.key === 'lfsFile') {
          const v = l.value as { path: string; oid: string };
          const data = this.uploads.get(v.oid);
          if (!data) return this.error(res, 400, 'LfsObjectMissing');
          rec.files.set(v.path, data);
          rec.lfs.push(v.path);
        }
      }
      this.commits.push(rec);
      for (const [p, data] of rec.files) repo.files.set(p, { content: data, lfs: rec.lfs.includes(p) });
      repo.commit = createHash('sha1').update(`${repo.commit}${this.commits.length}`).digest('hex');
      return this.json(res, 200, { commitOid: repo.commit, commitUrl: `${this.url}/${commit[1]}/commit/${repo.commit}`, success: true });
    }
    return this.error(res, 404, 'NotFound');
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
