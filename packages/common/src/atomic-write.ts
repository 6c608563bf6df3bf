/**
 * Atomic file writes: a crash or a full disk leaves either the old file or the new one at
 * `path`, never a mix or a truncated file.
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** The temporary file's name: `.<final name>.tmp-<pid>-<8 random hex digits>`. */
function temporaryName(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

const TEMPORARY_NAME = /^\..+\.tmp-(\d+)-[0-9a-f]+$/;

/**
 * The process id of the writer of `name` when it is one of writeFileAtomic's temporary files
 * (a name in a folder listing), else null. A temporary file whose process is gone is debris of
 * a killed write.
 */
export function atomicTemporaryOwner(name: string): number | null {
  const m = TEMPORARY_NAME.exec(name);
  return m ? Number(m[1]) : null;
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}

/**
 * Writes `chunks` to a temporary file beside `path` (`.<name>.tmp-<pid>-<random>`), fsyncs it,
 * renames it over `path` and fsyncs the folder. On any error the temporary file is removed and
 * the error is thrown.
 */
export function writeFileAtomic(path: string, chunks: Iterable<Uint8Array> | Uint8Array | string): void {
  const parts: Iterable<Uint8Array> = typeof chunks === 'string' ? [Buffer.from(chunks, 'utf8')] : chunks instanceof Uint8Array ? [chunks] : chunks;
  const tmp = temporaryName(path);
  const fd = openSync(tmp, 'w');
  let ok = false;
  try {
    for (const c of parts) {
      let off = 0;
      while (off < c.byteLength) off += writeSync(fd, c, off, c.byteLength - off);
    }
    fsyncSync(fd);
    ok = true;
  } finally {
    closeSync(fd);
    if (!ok) removeQuietly(tmp);
  }
  try {
    renameSync(tmp, path);
  } catch (e) {
    removeQuietly(tmp);
    throw e;
  }
  try {
    const dfd = openSync(dirname(path), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    /* some file systems cannot fsync a folder; the rename is still atomic */
  }
}
