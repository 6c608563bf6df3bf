import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSafetensors } from '@openclip/engine/safetensors';
import { HubTestServer } from '../../test-support/hub-test-server.js';
import { hfHubDownload, HubError, type DownloadProgress } from '../../src/hub/hf-download.js';
import { hfHubCacheDir, lookupCache, parseHfHubSpec, repoFolderName } from '@openclip/common';
import { resolvePretrained } from '../../src/hub/resolve-pretrained.js';
import { fallbackLockPath, pythonLockPath } from '../../src/hub/hub-lock.js';
import { acquireFlock, flockAvailable } from '@openclip/engine/file-lock';
import { loadStateDict } from '../../src/checkpoint/checkpoint-file.js';
import { saveTorchStateDict } from '../../src/checkpoint/torch-save.js';
import { modelCase, modelCaseNames } from '../../test-support/reference-models.js';

// The Hub's files are a reference model of the fixtures (the manifest's smallest CLIP-family
// case): its safetensors weights and config, and the same weights as a PyTorch zip pickle.
const CASES = modelCaseNames('clip_model');
const SKIP = CASES.skip;
const model = SKIP ? null : CASES.names.map((n) => modelCase(n)).sort((a, b) => a.nParams - b.nParams)[0]!;
const server = new HubTestServer();
let endpoint = '';
let safetensorsBytes: Buffer;
let binBytes: Buffer;
let configBytes: Buffer;
const scratch: string[] = [];

function freshCache(): string {
  const d = mkdtempSync(join(tmpdir(), 'openclip-hub-'));
  scratch.push(d);
  return d;
}

let binPath = '';

before(async () => {
  if (!model) return;
  safetensorsBytes = readFileSync(model.weights);
  binPath = join(freshCache(), 'open_clip_pytorch_model.bin');
  saveTorchStateDict(binPath, loadSafetensors(model.weights).tensors);
  binBytes = readFileSync(binPath);
  const modelCfg = JSON.parse(readFileSync(model.config, 'utf8'));
  configBytes = Buffer.from(JSON.stringify({ model_cfg: modelCfg, preprocess_cfg: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], interpolation: 'bicubic', resize_mode: 'squash' } }));
  endpoint = await server.start();
  server.addRepo('org/tiny', {
    'open_clip_config.json': { content: configBytes },
    'open_clip_model.safetensors': { content: safetensorsBytes, lfs: true },
    'open_clip_pytorch_model.bin': { content: binBytes, lfs: true },
  });
  server.addRepo('org/bin-only', {
    'open_clip_config.json': { content: configBytes },
    'open_clip_pytorch_model.bin': { content: binBytes, lfs: true },
  });
  // The repo behind the registry tag RN50/openai.
  server.addRepo('timm/resnet50_clip.openai', { 'open_clip_model.safetensors': { content: safetensorsBytes, lfs: true } });
});

after(async () => {
  if (model) await server.stop();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

test('hf-hub:org/name downloads config + safetensors into the Python-compatible cache layout', { skip: SKIP }, async () => {
  const cacheDir = freshCache();
  const progress: DownloadProgress[] = [];
  const r = await resolvePretrained('hf-hub:org/tiny', undefined, { cacheDir, endpoint, onProgress: (p) => progress.push(p) });
  const repo = join(cacheDir, repoFolderName('org/tiny'));
  const commit = readFileSync(join(repo, 'refs', 'main'), 'utf8');
  assert.match(commit, /^[0-9a-f]{40}$/);
  assert.equal(r.source, 'hf-hub');
  assert.equal(r.checkpointPath, join(repo, 'snapshots', commit, 'open_clip_model.safetensors'));
  assert.ok(lstatSync(r.checkpointPath).isSymbolicLink());
  const sha = HubTestServer.sha256(safetensorsBytes);
  assert.equal(readlinkSync(r.checkpointPath), join('..', '..', 'blobs', sha));
  assert.ok(readFileSync(join(repo, 'blobs', sha)).equals(safetensorsBytes));
  // the small non-LFS config is stored under its git blob sha1
  assert.ok(existsSync(join(repo, 'blobs', HubTestServer.gitSha1(configBytes))));
  assert.deepEqual(r.config?.preprocess_cfg, { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], interpolation: 'bicubic', resize_mode: 'squash' });
  assert.equal((r.config?.model_cfg as { embed_dim: number }).embed_dim, JSON.parse(readFileSync(model!.config, 'utf8')).embed_dim);
  const last = progress.filter((p) => p.filename === 'open_clip_model.safetensors').at(-1)!;
  assert.equal(last.downloaded, safetensorsBytes.length);
  assert.equal(last.total, safetensorsBytes.length);
  assert.ok(server.requests.some((q) => q.path === `/cdn/${sha}`), 'LFS file fetched through the redirect');
  const sd = loadStateDict(r.checkpointPath);
  assert.deepEqual([...sd.keys()].sort(), [...loadSafetensors(model!.weights).tensors.keys()].sort());
  assert.deepEqual(lookupCache('org/tiny', 'open_clip_model.safetensors', { cacheDir }), { status: 'cached', path: r.checkpointPath, commit });

  // A second resolve hits the cache: metadata requests only, no data transfer.
  const before = server.requests.length;
  const again = await resolvePretrained('hf-hub:org/tiny', undefined, { cacheDir, endpoint });
  assert.equal(again.checkpointPath, r.checkpointPath);
  assert.ok(server.requests.slice(before).every((q) => q.method === 'HEAD'));
});

test('falls back to open_clip_pytorch_model.bin and records the missing safetensors in .no_exist', { skip: SKIP }, async () => {
  const cacheDir = freshCache();
  const r = await resolvePretrained('ViT-B-32', 'hf-hub:org/bin-only', { cacheDir, endpoint });
  assert.ok(r.checkpointPath.endsWith('open_clip_pytorch_model.bin'));
  const repo = join(cacheDir, repoFolderName('org/bin-only'));
  const commit = readFileSync(join(repo, 'refs', 'main'), 'utf8');
  assert.ok(existsSync(join(repo, '.no_exist', commit, 'open_clip_model.safetensors')));
  assert.equal(loadStateDict(r.checkpointPath).size, loadStateDict(binPath).size);
  // Offline, the cached answers are enough: the bin is found, the safetensors is known missing.
  const n = server.requests.length;
  const off = await resolvePretrained('hf-hub:org/bin-only', undefined, { cacheDir, endpoint, offline: true });
  assert.equal(off.checkpointPath, r.checkpointPath);
  assert.equal(server.requests.length, n, 'offline mode made no request');
});

test('HF_HUB_OFFLINE=1 without a cached copy fails clearly; HF_ENDPOINT, HF_HUB_CACHE and HF_TOKEN are honoured', { skip: SKIP }, async () => {
  const cacheDir = freshCache();
  const saved = { ...process.env };
  try {
    process.env.HF_HUB_OFFLINE = '1';
    await assert.rejects(hfHubDownload('org/tiny', 'open_clip_model.safetensors', { cacheDir }), (e: HubError) => e.code === 'Offline' && /HF_HUB_OFFLINE=1/.test(e.message) && e.message.includes(cacheDir));
    delete process.env.HF_HUB_OFFLINE;
    process.env.HF_ENDPOINT = endpoint;
    process.env.HF_HUB_CACHE = cacheDir;
    process.env.HF_TOKEN = 'hf_test_token';
    assert.equal(hfHubCacheDir(), cacheDir);
    const p = await hfHubDownload('org/tiny', 'open_clip_config.json');
    assert.ok(p.startsWith(join(cacheDir, 'models--org--tiny', 'snapshots')));
    assert.ok(server.requests.at(-1)!.authorization === 'Bearer hf_test_token');
  } finally {
    for (const k of ['HF_HUB_OFFLINE', 'HF_ENDPOINT', 'HF_HUB_CACHE', 'HF_TOKEN']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
});

test('an interrupted download resumes from the partial file with a Range request', { skip: SKIP }, async () => {
  const cacheDir = freshCache();
  server.faults = { cut: { file: 'open_clip_model.safetensors', afterBytes: safetensorsBytes.length >> 1, times: 1 } };
  try {
    await assert.rejects(hfHubDownload('org/tiny', 'open_clip_model.safetensors', { cacheDir, endpoint }));
    const sha = HubTestServer.sha256(safetensorsBytes);
    const partial = join(cacheDir, repoFolderName('org/tiny'), 'blobs', `${sha}.incomplete`);
    const had = statSync(partial).size;
    assert.ok(had > 0 && had < safetensorsBytes.length, `partial file has ${had} bytes`);
    const progress: DownloadProgress[] = [];
    const p = await hfHubDownload('org/tiny', 'open_clip_model.safetensors', { cacheDir, endpoint, onProgress: (x) => progress.push(x) });
    assert.ok(readFileSync(p).equals(safetensorsBytes));
    assert.ok(server.requests.some((q) => q.path === `/cdn/${sha}` && q.range === `bytes=${had}-${safetensorsBytes.length - 1}`), 'resumed with a Range request');
    assert.equal(progress[0].resumedFrom, had);
    assert.ok(!existsSync(partial));
  } finally {
    server.faults = {};
  }
});

test('a server that ignores Range restarts the file instead of appending the whole body', { skip: SKIP }, async () => {
  const cacheDir = freshCache();
  const sha = HubTestServer.sha256(binBytes);
  const blobs = join(cacheDir, repoFolderName('org/tiny'), 'blobs');
  mkdirSync(blobs, { recursive: true });
  writeFileSync(join(blobs, `${sha}.incomplete`), binBytes.subarray(0, binBytes.length >> 1));
  server.faults = { ignoreRange: true };
  try {
    const p = await hfHubDownload('org/tiny', 'open_clip_pytorch_model.bin', { cacheDir, endpoint });
    assert.ok(readFileSync(p).equals(binBytes));
  } finally {
    server.faults = {};
  }
});

test('corrupted bytes fail the sha256 check and leave nothing in the cache', { skip: SKIP }, async () => {
  const cacheDir = freshCache();
  server.faults = { corrupt: 'open_clip_model.safetensors' };
  try {
    await assert.rejects(hfHubDownload('org/tiny', 'open_clip_model.safetensors', { cacheDir, endpoint }), (e: HubError) => e.code === 'Checksum' && /sha256/.test(e.message) && e.message.includes(HubTestServer.sha256(safetensorsBytes)));
    const blobs = join(cacheDir, repoFolderName('org/tiny'), 'blobs');
    assert.ok(!existsSync(join(blobs, HubTestServer.sha256(safetensorsBytes))));
    assert.ok(!existsSync(join(blobs, `${HubTestServer.sha256(safetensorsBytes)}.incomplete`)));
    assert.equal(lookupCache('org/tiny', 'open_clip_model.safetensors', { cacheDir }).status, 'not-cached');
  } finally {
    server.faults = {};
  }
});

test('registry tags (normalised), local files and local-dir: resolve; unknown names fail with the choices', { skip: SKIP }, async () => {
  const cacheDir = freshCache();
  const r = await resolvePretrained('RN50', 'OpenAI', { cacheDir, endpoint });
  assert.equal(r.source, 'tag');
  assert.equal(r.repoId, 'timm/resnet50_clip.openai');
  assert.equal(r.pretrainedCfg?.quick_gelu, true);
  assert.ok(r.checkpointPath.includes(join('models--timm--resnet50_clip.openai', 'snapshots')));

  const dir = freshCache();
  copyFileSync(binPath, join(dir, 'open_clip_pytorch_model.bin'));
  writeFileSync(join(dir, 'open_clip_config.json'), configBytes);
  const local = await resolvePretrained(`local-dir:${dir}`, undefined);
  assert.equal(local.source, 'local-dir');
  assert.equal(local.checkpointPath, join(dir, 'open_clip_pytorch_model.bin'));
  const file = await resolvePretrained('ViT-B-32', join(dir, 'open_clip_pytorch_model.bin'));
  assert.equal(file.source, 'file');
  await assert.rejects(resolvePretrained('RN50', 'laion9000'), /neither a pretrained tag of 'RN50' \(tags: openai, yfcc15m, cc12m\)/);
  await assert.rejects(resolvePretrained('hf-hub:org/missing', undefined, { cacheDir, endpoint }), (e: HubError) => e.code === 'RepoNotFound' && e.message.includes('org/missing'));
  await assert.rejects(resolvePretrained('hf-hub:org/tiny', 'openai'), /already names its weights/);
  assert.deepEqual(parseHfHubSpec('hf-hub:org/name@v1.0'), { repoId: 'org/name', revision: 'v1.0' });
});

test('a pinned commit revision is served from the cache without any request', { skip: SKIP }, async () => {
  const cacheDir = freshCache();
  const commit = server.repos.get('org/tiny')!.commit;
  const p1 = await hfHubDownload('org/tiny', 'open_clip_config.json', { cacheDir, endpoint, revision: commit });
  const n = server.requests.length;
  const p2 = await hfHubDownload('org/tiny', 'open_clip_config.json', { cacheDir, endpoint, revision: commit });
  assert.equal(p1, p2);
  assert.equal(server.requests.length, n);
  assert.ok(!existsSync(join(cacheDir, repoFolderName('org/tiny'), 'refs', commit)), 'no ref file for a commit revision');
});

test('concurrent downloads of one file take turns on a lock: one transfer, both get the file', { skip: SKIP }, async () => {
  const cacheDir = freshCache();
  const sha = HubTestServer.sha256(binBytes);
  const before = server.requests.length;
  const [a, b] = await Promise.all([
    hfHubDownload('org/tiny', 'open_clip_pytorch_model.bin', { cacheDir, endpoint }),
    hfHubDownload('org/tiny', 'open_clip_pytorch_model.bin', { cacheDir, endpoint }),
  ]);
  assert.equal(a, b);
  assert.ok(readFileSync(a).equals(binBytes));
  assert.equal(server.requests.slice(before).filter((q) => q.method === 'GET' && q.path === `/cdn/${sha}`).length, 1, 'one data transfer');
  // The lock is released: it can be taken at once (flock on huggingface_hub's name, or our fallback file is gone).
  if (flockAvailable()) {
    const held = await acquireFlock(pythonLockPath(cacheDir, 'org/tiny', sha), { stallTimeoutMs: 0 });
    held.release();
  } else {
    assert.ok(!existsSync(fallbackLockPath(cacheDir, 'org/tiny', sha)), 'lock released');
  }
});

test("small files behind the Hub's relative resolve-cache redirect are fetched and keep the commit", { skip: SKIP }, async () => {
  const cacheDir = freshCache();
  server.faults = { resolveCache: true };
  try {
    const p = await hfHubDownload('org/tiny', 'open_clip_config.json', { cacheDir, endpoint });
    const commit = server.repos.get('org/tiny')!.commit;
    assert.equal(p, join(cacheDir, repoFolderName('org/tiny'), 'snapshots', commit, 'open_clip_config.json'));
    assert.ok(readFileSync(p).equals(configBytes));
    assert.ok(server.requests.some((q) => q.path.startsWith('/api/resolve-cache/models/org/tiny/')));
  } finally {
    server.faults = {};
  }
});
