/**
 * One writer per cache blob across processes — every rank of a distributed run resolving the same
 * weights, or a Python process downloading into the same cache. The lock is huggingface_hub's:
 * `<cache>/.locks/<repo folder>/<etag>.lock`, held with flock(2) as Python's filelock holds it, so
 * openclip-ts and Python exclude each other. flock comes from the engine's addon; without it we fall
 * back to a lock file of our own (`<etag>.openclip-ts.lock`, O_EXCL + owner pid), which excludes our
 * processes only. A waiter gives up when the holder's partial download stops growing for
 * `OPENCLIP_HUB_LOCK_TIMEOUT_S` seconds (default 600).
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { acquireFlock, flockAvailable, FileLockTimeout } from '@openclip/engine/file-lock';
import { repoFolderName } from '@openclip/common';

/** The lock file huggingface_hub uses for a blob. */
export function pythonLockPath(cacheDir: string, repoId: string, etag: string): string {
  return join(cacheDir, '.locks', repoFolderName(repoId), `${etag}.lock`);
}

/** Our own lock file, used only when flock is unavailable. */
export function fallbackLockPath(cacheDir: string, repoId: string, etag: string): string {
  return join(cacheDir, '.locks', repoFolderName(repoId), `${etag}.openclip-ts.lock`);
}

function stallTimeoutMs(): number {
  const raw = process.env.OPENCLIP_HUB_LOCK_TIMEOUT_S;
  if (raw === undefined || raw === '') return 600_000;
  const s = Number(raw);
  if (!Number.isFinite(s) || s <= 0) throw new Error(`OPENCLIP_HUB_LOCK_TIMEOUT_S: expected a positive number of seconds, got '${raw}'`);
  return s * 1000;
}

/** Size of the holder's partial download (or -1 once the blob is complete): what counts as progress. */
function blobProgress(blob: string): () => number {
  return () => {
    if (existsSync(blob)) return -1;
    try {
      return statSync(`${blob}.incomplete`).size;
    } catch {
      return 0;
    }
  };
}

/** Runs `fn` while holding the cache lock of `blob` (`etag` of `repoId` in `cacheDir`). */
export async function withBlobLock(cacheDir: string, repoId: string, etag: string, blob: string, fn: () => Promise<void>): Promise<void> {
  const timeout = stallTimeoutMs();
  const describe = `downloading ${repoId} blob ${etag}`;
  if (flockAvailable()) {
    const held = await acquireFlock(pythonLockPath(cacheDir, repoId, etag), { stallTimeoutMs: timeout, progress: blobProgress(blob), describe });
    try {
      await fn();
    } finally {
      held.release();
    }
    return;
  }
  await withPidLock(fallbackLockPath(cacheDir, repoId, etag), timeout, blobProgress(blob), describe, fn);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function safeMtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** The fallback: a lock file created with O_EXCL holding our pid; a dead owner's lock is taken over. */
async function withPidLock(lockPath: string, timeoutMs: number, progress: () => number, describe: string, fn: () => Promise<void>): Promise<void> {
  mkdirSync(dirname(lockPath), { recursive: true });
  let mark = progress();
  let lastProgress = Date.now();
  for (;;) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let owner = NaN;
      try {
        owner = Number(readFileSync(lockPath, 'utf8'));
      } catch {
        continue; // released between our open and read
      }
      const stale = Number.isInteger(owner) && owner > 0 ? !pidAlive(owner) : Date.now() - safeMtime(lockPath) > 60_000;
      if (stale) {
        rmSync(lockPath, { force: true });
        continue;
      }
      const p = progress();
      if (p !== mark) {
        mark = p;
        lastProgress = Date.now();
      } else if (Date.now() - lastProgress > timeoutMs) {
        throw new FileLockTimeout(lockPath, `${lockPath}: process ${owner} has held this lock for ${((Date.now() - lastProgress) / 1000).toFixed(0)} s without progress (${describe}); stop it, or remove the lock file`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    await fn();
  } finally {
    try {
      unlinkSync(lockPath);
    } catch {
      /* already removed */
    }
  }
}
