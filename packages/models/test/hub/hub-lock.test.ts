import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireFlock, flockAvailable, flockUnavailableReason, FileLockTimeout } from '@openclip/engine/file-lock';
import { fallbackLockPath, pythonLockPath, withBlobLock } from '../../src/hub/hub-lock.js';

const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
const hasPython = spawnSync(PYTHON, ['-c', 'import fcntl'], { stdio: 'ignore' }).status === 0;
const scratch: string[] = [];
after(() => scratch.forEach((d) => rmSync(d, { recursive: true, force: true })));

function freshCache(): string {
  const d = mkdtempSync(join(tmpdir(), 'openclip-hublock-'));
  scratch.push(d);
  return d;
}

function withEnv<T>(name: string, value: string, fn: () => Promise<T>): Promise<T> {
  const old = process.env[name];
  process.env[name] = value;
  return fn().finally(() => {
    if (old === undefined) delete process.env[name];
    else process.env[name] = old;
  });
}

const ETAG = 'a'.repeat(64);
const noFlock = flockAvailable() ? false : `flock unavailable: ${flockUnavailableReason()}`;

test('the cache lock is huggingface_hub\'s <cache>/.locks/<repo>/<etag>.lock', () => {
  assert.equal(pythonLockPath('/c', 'org/name', ETAG), join('/c', '.locks', 'models--org--name', `${ETAG}.lock`));
});

test('a held cache lock makes the next writer wait, then gives it the lock; a stalled holder times out naming the lock', { skip: noFlock }, async () => {
  const cache = freshCache();
  const blob = join(cache, 'models--org--name', 'blobs', ETAG);
  const lockPath = pythonLockPath(cache, 'org/name', ETAG);
  const held = await acquireFlock(lockPath, { stallTimeoutMs: 1000 });
  let entered = 0;
  const releasedAt = Date.now() + 300;
  setTimeout(() => held.release(), 300);
  await withBlobLock(cache, 'org/name', ETAG, blob, async () => {
    entered = Date.now();
  });
  assert.ok(entered >= releasedAt - 5, 'entered only after the holder released');

  const stuck = await acquireFlock(lockPath, { stallTimeoutMs: 1000 });
  try {
    await withEnv('OPENCLIP_HUB_LOCK_TIMEOUT_S', '0.3', () =>
      assert.rejects(withBlobLock(cache, 'org/name', ETAG, blob, async () => assert.fail('must not run')), (e: Error) => e instanceof FileLockTimeout && e.message.includes(lockPath) && /without progress/.test(e.message)),
    );
  } finally {
    stuck.release();
  }
});

test('a waiter keeps waiting while the holder\'s partial download grows', { skip: noFlock }, async () => {
  const cache = freshCache();
  const blob = join(cache, 'models--org--name', 'blobs', ETAG);
  mkdirSync(join(cache, 'models--org--name', 'blobs'), { recursive: true });
  const held = await acquireFlock(pythonLockPath(cache, 'org/name', ETAG), { stallTimeoutMs: 1000 });
  let size = 0;
  const grow = setInterval(() => writeFileSync(`${blob}.incomplete`, Buffer.alloc((size += 10))), 100);
  setTimeout(() => {
    clearInterval(grow);
    held.release();
  }, 900);
  let ran = false;
  await withEnv('OPENCLIP_HUB_LOCK_TIMEOUT_S', '0.4', () => withBlobLock(cache, 'org/name', ETAG, blob, async () => void (ran = true)));
  assert.ok(ran, 'progress kept the waiter alive past its 0.4 s stall limit');
});

test('bad OPENCLIP_HUB_LOCK_TIMEOUT_S is refused by name', async () => {
  const cache = freshCache();
  await withEnv('OPENCLIP_HUB_LOCK_TIMEOUT_S', 'soon', () => assert.rejects(withBlobLock(cache, 'org/name', ETAG, join(cache, 'b'), async () => {}), /OPENCLIP_HUB_LOCK_TIMEOUT_S.*'soon'/));
});

// Python's filelock takes flock(2) on the lock file; with it (python3-filelock) or with fcntl directly,
// a Python process and openclip-ts exclude each other on the same cache.
const PY_HOLDER = `
import sys, time
path, hold = sys.argv[1], float(sys.argv[2])
try:
    from filelock import FileLock
    lock = FileLock(path); lock.acquire()
    release = lock.release
except ImportError:
    import fcntl
    f = open(path, 'a'); fcntl.flock(f, fcntl.LOCK_EX)
    release = lambda: fcntl.flock(f, fcntl.LOCK_UN)
print('held', flush=True)
time.sleep(hold)
release()
print('released %d' % int(time.time() * 1000), flush=True)
`;
const PY_TRY = `
import sys, fcntl
f = open(sys.argv[1], 'a')
try:
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print('free')
except BlockingIOError:
    print('busy')
`;

test('Python and openclip-ts exclude each other on the cache lock', { skip: noFlock || (!hasPython && `${PYTHON} not found`) }, async () => {
  const cache = freshCache();
  const blob = join(cache, 'models--org--name', 'blobs', ETAG);
  const lockPath = pythonLockPath(cache, 'org/name', ETAG);
  mkdirSync(join(cache, '.locks', 'models--org--name'), { recursive: true });
  // Python holds it: we wait for its release.
  const py = spawn(PYTHON, ['-c', PY_HOLDER, lockPath, '0.5'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  py.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 20_000;
  while (!out.includes('held')) {
    assert.ok(Date.now() < deadline && py.exitCode === null, `python did not take the lock: ${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  let entered = 0;
  await withBlobLock(cache, 'org/name', ETAG, blob, async () => void (entered = Date.now()));
  await new Promise((r) => (py.exitCode === null ? py.on('exit', r) : r(null)));
  const released = Number(/released (\d+)/.exec(out)?.[1]);
  assert.ok(Number.isFinite(released) && entered >= released - 5, `we entered at ${entered}, python released at ${released}`);
  // We hold it: Python finds it busy; after our release, free.
  const ours = await acquireFlock(lockPath, { stallTimeoutMs: 1000 });
  const busy = spawnSync(PYTHON, ['-c', PY_TRY, lockPath], { encoding: 'utf8', timeout: 20_000 });
  ours.release();
  const free = spawnSync(PYTHON, ['-c', PY_TRY, lockPath], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(busy.stdout.trim(), 'busy', busy.stderr);
  assert.equal(free.stdout.trim(), 'free', free.stderr);
});

test('without flock (no addon), a lock of our own is used: a dead owner\'s is taken over, a live one times out by name', async () => {
  const cache = freshCache();
  const blob = join(cache, 'models--org--name', 'blobs', ETAG);
  const lock = fallbackLockPath(cache, 'org/name', ETAG);
  mkdirSync(join(cache, '.locks', 'models--org--name'), { recursive: true });
  const script = `
    import { withBlobLock } from ${JSON.stringify(new URL('../../src/hub/hub-lock.js', import.meta.url).href)};
    import { flockAvailable } from '@openclip/engine/file-lock';
    if (flockAvailable()) throw new Error('OPENCLIP_NATIVE=0 should disable flock');
    const [cache, etag, blob, marker] = process.argv.slice(1);
    await withBlobLock(cache, 'org/name', etag, blob, async () => (await import('node:fs')).writeFileSync(marker, 'ran'));
  `;
  const run = () =>
    spawnSync(process.execPath, ['--input-type=module', '-e', script, cache, ETAG, blob, join(cache, 'marker')], {
      env: { ...process.env, OPENCLIP_NATIVE: '0', OPENCLIP_HUB_LOCK_TIMEOUT_S: '0.3' },
      cwd: fileURLToPath(new URL('.', import.meta.url)),
      encoding: 'utf8',
      timeout: 30_000,
    });
  writeFileSync(lock, '999999999'); // no such process
  const r1 = run();
  assert.equal(r1.status, 0, r1.stderr);
  assert.equal(readFileSync(join(cache, 'marker'), 'utf8'), 'ran');
  assert.ok(!existsSync(lock), 'our lock file is removed after use');
  rmSync(join(cache, 'marker'));
  writeFileSync(lock, String(process.pid)); // a live owner that makes no progress
  const r2 = run();
  assert.notEqual(r2.status, 0);
  assert.ok(r2.stderr.includes(lock) && r2.stderr.includes(`process ${process.pid}`), r2.stderr);
  assert.ok(!existsSync(join(cache, 'marker')));
});
