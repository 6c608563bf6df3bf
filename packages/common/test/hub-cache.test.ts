import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { hfHomeDir, hfHubCacheDir, hfTokenPath, lookupCache, repoFolderName } from '../src/hub-cache.js';

test('the cache folder: --cache-dir, then HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, HF_HOME/hub, XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub', () => {
  const all = { HF_HUB_CACHE: '/a', HUGGINGFACE_HUB_CACHE: '/b', HF_HOME: '/c', XDG_CACHE_HOME: '/d' };
  assert.equal(hfHubCacheDir('/given', all), '/given');
  assert.equal(hfHubCacheDir(undefined, all), '/a');
  assert.equal(hfHubCacheDir(undefined, { HUGGINGFACE_HUB_CACHE: '/b', HF_HOME: '/c' }), '/b');
  assert.equal(hfHubCacheDir(undefined, { HF_HOME: '/c', XDG_CACHE_HOME: '/d' }), join('/c', 'hub'));
  assert.equal(hfHubCacheDir(undefined, { XDG_CACHE_HOME: '/d' }), join('/d', 'huggingface', 'hub'));
  assert.equal(hfHubCacheDir(undefined, {}), join(homedir(), '.cache', 'huggingface', 'hub'));
  assert.equal(hfHubCacheDir(undefined, { HOME: '/home/u' }), join('/home/u', '.cache', 'huggingface', 'hub'));
  // empty values of the two cache variables count as unset; an empty --cache-dir too
  assert.equal(hfHubCacheDir('', { HF_HUB_CACHE: '', HUGGINGFACE_HUB_CACHE: '', HF_HOME: '/c' }), join('/c', 'hub'));
});

test('~ and $VAR in the variables are expanded as huggingface_hub expands them (expanduser, expandvars)', () => {
  const env = { HOME: '/home/u', SCRATCH: '/scratch' };
  assert.equal(hfHubCacheDir(undefined, { ...env, HF_HOME: '~/hf' }), join('/home/u', 'hf', 'hub'));
  assert.equal(hfHubCacheDir(undefined, { ...env, HF_HOME: '~' }), join('/home/u', 'hub'));
  assert.equal(hfHubCacheDir(undefined, { ...env, HF_HUB_CACHE: '$SCRATCH/hub' }), '/scratch/hub');
  assert.equal(hfHubCacheDir(undefined, { ...env, HUGGINGFACE_HUB_CACHE: '${SCRATCH}/legacy' }), '/scratch/legacy');
  assert.equal(hfHubCacheDir(undefined, { ...env, XDG_CACHE_HOME: '~/xdg' }), join('/home/u', 'xdg', 'huggingface', 'hub'));
  // unknown variables and ~user stay as written (Python leaves them too when they do not resolve)
  assert.equal(hfHubCacheDir(undefined, { ...env, HF_HUB_CACHE: '$NOPE/x' }), '$NOPE/x');
  assert.equal(hfHubCacheDir(undefined, { ...env, HF_HUB_CACHE: '~nobody-here/x' }), '~nobody-here/x');
  // a path given as --cache-dir is taken as it is
  assert.equal(hfHubCacheDir('~/given', env), '~/given');
});

const PYTHON = '/usr/bin/python3';

test('the expansion agrees with Python os.path.expandvars(os.path.expanduser(...)) on awkward values', { skip: existsSync(PYTHON) ? false : `${PYTHON} is absent` }, () => {
  const values = ['~/hf', '~', '$SCRATCH/hub', '${SCRATCH}/x', '$NOPE/x', '${NOPE}/x', '~nobody-here/x', '/a/$SCRATCH$SCRATCH', 'a$', '$1x/y', '~/$SCRATCH/~', '$SCR_2/z', '${}/q'];
  const env = { HOME: '/home/u', SCRATCH: '/scratch', SCR_2: '/s2' };
  const script = 'import os, sys, json; print(json.dumps([os.path.expandvars(os.path.expanduser(v)) for v in sys.argv[1:]]))';
  const r = spawnSync(PYTHON, ['-c', script, ...values], { env, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  const expected = JSON.parse(r.stdout) as string[];
  assert.deepEqual(values.map((v) => hfHubCacheDir(undefined, { ...env, HF_HUB_CACHE: v })), expected);
});

test('the home folder and the login token path share the HF_HOME resolution (HF_TOKEN_PATH first, expanded too)', () => {
  const env = { HOME: '/home/u', T: '/tokens' };
  assert.equal(hfHomeDir({ ...env, HF_HOME: '/c', XDG_CACHE_HOME: '/d' }), '/c');
  assert.equal(hfHomeDir({ ...env, XDG_CACHE_HOME: '/d' }), join('/d', 'huggingface'));
  assert.equal(hfHomeDir(env), join('/home/u', '.cache', 'huggingface'));
  assert.equal(hfTokenPath({ ...env, HF_HOME: '~/hf' }), join('/home/u', 'hf', 'token'));
  assert.equal(hfTokenPath({ ...env, HF_HOME: '/c', HF_TOKEN_PATH: '$T/tok' }), '/tokens/tok');
  // the cache lives under the same home unless a cache variable says otherwise
  assert.equal(hfHubCacheDir(undefined, { ...env, HF_HOME: '~/hf' }), join(hfHomeDir({ ...env, HF_HOME: '~/hf' }), 'hub'));
});

test('lookupCache: refs/<branch> → snapshots/<commit>, a commit id directly, .no_exist markers, nothing guessed', () => {
  const cache = mkdtempSync(join(tmpdir(), 'openclip-hub-cache-'));
  try {
    assert.equal(repoFolderName('org/name'), 'models--org--name');
    assert.equal(repoFolderName('bert-base-uncased'), 'models--bert-base-uncased');
    const repo = join(cache, 'models--org--name');
    const commit = 'a'.repeat(40);
    const other = 'b'.repeat(40);
    mkdirSync(join(repo, 'refs'), { recursive: true });
    mkdirSync(join(repo, 'snapshots', commit), { recursive: true });
    mkdirSync(join(repo, 'snapshots', other), { recursive: true });
    mkdirSync(join(repo, '.no_exist', commit), { recursive: true });
    writeFileSync(join(repo, 'refs', 'main'), commit);
    writeFileSync(join(repo, 'snapshots', commit, 'w.bin'), 'x');
    writeFileSync(join(repo, 'snapshots', other, 'only-in-other.bin'), 'x');
    writeFileSync(join(repo, '.no_exist', commit, 'absent.bin'), '');
    const file = join(repo, 'snapshots', commit, 'w.bin');
    assert.deepEqual(lookupCache('org/name', 'w.bin', { cacheDir: cache }), { status: 'cached', path: file, commit });
    assert.deepEqual(lookupCache('org/name', 'w.bin', { env: { HF_HUB_CACHE: cache } }), { status: 'cached', path: file, commit });
    assert.deepEqual(lookupCache('org/name', 'absent.bin', { cacheDir: cache }), { status: 'missing-on-hub', commit });
    // main points at `commit`: a file of another snapshot is not main's
    assert.deepEqual(lookupCache('org/name', 'only-in-other.bin', { cacheDir: cache }), { status: 'not-cached', looked: join(repo, 'snapshots', commit, 'only-in-other.bin') });
    // ... but that snapshot's commit id finds it, without any ref
    assert.equal(lookupCache('org/name', 'only-in-other.bin', { cacheDir: cache, revision: other }).status, 'cached');
    // a branch or tag without refs/<name> is not cached, even when a snapshot folder has that name
    mkdirSync(join(repo, 'snapshots', 'v1'), { recursive: true });
    writeFileSync(join(repo, 'snapshots', 'v1', 'w.bin'), 'x');
    assert.deepEqual(lookupCache('org/name', 'w.bin', { cacheDir: cache, revision: 'v1' }), { status: 'not-cached', looked: join(repo, 'refs', 'v1') });
    // a ref written with a trailing newline still resolves
    writeFileSync(join(repo, 'refs', 'v2'), `${other}\n`);
    assert.equal(lookupCache('org/name', 'only-in-other.bin', { cacheDir: cache, revision: 'v2' }).status, 'cached');
    assert.equal(lookupCache('org/missing', 'w.bin', { cacheDir: cache }).status, 'not-cached');
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});
