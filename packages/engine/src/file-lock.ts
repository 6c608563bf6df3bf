/**
 * Inter-process file locks that interoperate with Python. Python's `filelock` (which
 * huggingface_hub uses for `<cache>/.locks/<repo>/<etag>.lock`) takes flock(2) on the lock file and
 * leaves the file behind. Node has no flock, so the engine's optional addon supplies it; without the
 * addon, callers fall back to a lock file of their own (O_EXCL + owner pid), which excludes our own
 * processes but not Python's. Importing this module loads neither TF.js nor OpenBLAS.
 */
import { closeSync, fstatSync, mkdirSync, openSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

interface FlockAddon {
  flockTry(fd: number): boolean;
  flockRelease(fd: number): void;
}

let addon: FlockAddon | null | undefined;
let addonWhy = '';

/** The addon's flock, or null (with the reason in {@link flockUnavailableReason}). */
function flockAddon(): FlockAddon | null {
  if (addon !== undefined) return addon;
  if (process.env.OPENCLIP_NATIVE === '0') {
    addonWhy = 'the engine addon is disabled by OPENCLIP_NATIVE=0';
    return (addon = null);
  }
  try {
    const a = createRequire(import.meta.url)('@openclip/engine-native') as Partial<FlockAddon>;
    if (typeof a.flockTry !== 'function' || typeof a.flockRelease !== 'function') {
      addonWhy = 'the engine addon predates flock support (rebuild it: node packages/engine/native/build.cjs)';
      return (addon = null);
    }
    return (addon = a as FlockAddon);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    addonWhy = err.code === 'MODULE_NOT_FOUND' ? 'the engine addon is not built (needs g++ at npm install)' : err.message.split('\n')[0];
    return (addon = null);
  }
}

/** Whether flock(2) locks are available (the engine addon loaded). */
export function flockAvailable(): boolean {
  return flockAddon() !== null;
}

/** Why flock(2) locks are unavailable ('' when they are available). */
export function flockUnavailableReason(): string {
  return flockAddon() ? '' : addonWhy;
}

export interface FlockWaitOptions {
  /**
   * Give up after this long without progress (ms). Progress is whatever `progress()` returns
   * changing, e.g. the size of the holder's partial download; without it, the time since we began.
   */
  stallTimeoutMs: number;
  progress?: () => number;
  /** Poll interval while another process holds the lock (default 50 ms, as Python's filelock). */
  pollMs?: number;
  /** Added to the timeout error, e.g. what the holder is doing. */
  describe?: string;
}

export class FileLockTimeout extends Error {
  constructor(readonly lockPath: string, message: string) {
    super(message);
    this.name = 'FileLockTimeout';
  }
}

/** A held flock; `release()` unlocks and closes (idempotent). The lock file is left in place, as Python's filelock leaves it. */
export interface HeldFlock {
  readonly path: string;
  release(): void;
}

/**
 * Takes an exclusive flock(2) on `path` (created if missing), waiting while another process holds
 * it, and failing with {@link FileLockTimeout} when nothing progresses for `stallTimeoutMs`. If the
 * file was replaced or removed while we waited (another tool deleting lock files), the lock on the
 * stale inode is dropped and taken again on the current file. Throws when flock is unavailable.
 */
export async function acquireFlock(path: string, opts: FlockWaitOptions): Promise<HeldFlock> {
  const a = flockAddon();
  if (!a) throw new Error(`flock locks unavailable: ${addonWhy}`);
  mkdirSync(dirname(path), { recursive: true });
  const poll = opts.pollMs ?? 50;
  let mark = opts.progress?.();
  let lastProgress = Date.now();
  for (;;) {
    const fd = openSync(path, 'a', 0o664);
    let held = false;
    try {
      held = a.flockTry(fd);
      if (held && sameFile(fd, path)) {
        let open = true;
        return {
          path,
          release(): void {
            if (!open) return;
            open = false;
            a.flockRelease(fd);
            closeSync(fd);
          },
        };
      }
    } catch (e) {
      closeSync(fd);
      throw new Error(`${path}: ${(e as Error).message}`);
    }
    if (held) a.flockRelease(fd);
    closeSync(fd);
    if (held) continue; // the file we locked was replaced: lock the current one
    const now = Date.now();
    const p = opts.progress?.();
    if (p !== mark) {
      mark = p;
      lastProgress = now;
    } else if (now - lastProgress > opts.stallTimeoutMs) {
      const waited = ((now - lastProgress) / 1000).toFixed(0);
      throw new FileLockTimeout(path, `${path}: another process has held this lock for ${waited} s without progress${opts.describe ? ` (${opts.describe})` : ''}; stop that process, or remove the lock file if none is running`);
    }
    await new Promise((r) => setTimeout(r, poll));
  }
}

function sameFile(fd: number, path: string): boolean {
  try {
    const a = fstatSync(fd);
    const b = statSync(path);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false; // removed while we took it
  }
}
