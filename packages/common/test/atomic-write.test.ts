import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atomicTemporaryOwner, writeFileAtomic } from '../src/atomic-write.js';

function inTmp(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'openclip-atomic-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('writes chunks, bytes or text and replaces the old file, leaving no temporary file', () => {
  inTmp((dir) => {
    const path = join(dir, 'out.bin');
    writeFileAtomic(path, [Uint8Array.of(1, 2), Uint8Array.of(3)]);
    assert.deepEqual([...readFileSync(path)], [1, 2, 3]);
    writeFileAtomic(path, Uint8Array.of(9));
    assert.deepEqual([...readFileSync(path)], [9]);
    writeFileAtomic(path, 'héllo');
    assert.equal(readFileSync(path, 'utf8'), 'héllo');
    assert.deepEqual(readdirSync(dir), ['out.bin']);
  });
});

test('a failure while writing keeps the old file and removes the temporary one', () => {
  inTmp((dir) => {
    const path = join(dir, 'keep.txt');
    writeFileSync(path, 'old');
    function* failing(): Generator<Uint8Array> {
      yield Uint8Array.of(1);
      throw new Error('disk full');
    }
    assert.throws(() => writeFileAtomic(path, failing()), /disk full/);
    assert.equal(readFileSync(path, 'utf8'), 'old');
    assert.deepEqual(readdirSync(dir), ['keep.txt']);
    assert.throws(() => writeFileAtomic(join(dir, 'missing', 'x.txt'), 'x'), /ENOENT/);
  });
});

test('atomicTemporaryOwner reads the writer pid from a temporary name, and nothing from other names', () => {
  inTmp((dir) => {
    const path = join(dir, 'epoch_1.safetensors');
    function* stop(): Generator<Uint8Array> {
      yield Uint8Array.of(1);
      // the temporary file exists while its chunks are written
      const names = readdirSync(dir);
      assert.equal(names.length, 1);
      assert.equal(atomicTemporaryOwner(names[0]), process.pid);
      throw new Error('stop');
    }
    assert.throws(() => writeFileAtomic(path, stop()), /stop/);
  });
  assert.equal(atomicTemporaryOwner('.epoch_3.safetensors.tmp-4242-0a1b2c3d'), 4242);
  assert.equal(atomicTemporaryOwner('epoch_3.safetensors'), null);
  assert.equal(atomicTemporaryOwner('.epoch_3.safetensors.tmp-x-0a1b'), null);
  assert.equal(atomicTemporaryOwner('epoch_3.safetensors.tmp-12-0a1b'), null);
});
