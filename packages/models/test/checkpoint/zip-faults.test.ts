/**
 * Fault suite for the ZIP reader under torch.save archives: an entry that inflates past its
 * declared size is refused without inflating it whole.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { ZipArchive } from '../../src/checkpoint/zip.js';
import { loadTorchCheckpoint } from '../../src/checkpoint/torch-load.js';

/** One-entry deflated ZIP whose directory declares `declared` bytes for the entry. */
function deflatedZip(name: string, data: Buffer, declared: number): Buffer {
  const packed = deflateRawSync(data, { level: 9 });
  const n = Buffer.from(name);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(crc32(data) >>> 0, 14);
  local.writeUInt32LE(packed.length, 18);
  local.writeUInt32LE(declared, 22);
  local.writeUInt16LE(n.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(crc32(data) >>> 0, 16);
  central.writeUInt32LE(packed.length, 20);
  central.writeUInt32LE(declared, 24);
  central.writeUInt16LE(n.length, 28);
  central.writeUInt32LE(0, 42);
  const cdOffset = 30 + n.length + packed.length;
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(1, 8);
  eocd.writeUInt16LE(1, 10);
  eocd.writeUInt32LE(46 + n.length, 12);
  eocd.writeUInt32LE(cdOffset, 16);
  return Buffer.concat([local, n, packed, central, n, eocd]);
}

test('a zip-bomb data.pkl declared as 100 bytes is refused after inflating no more than that', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zipbomb-'));
  try {
    const path = join(dir, 'bomb.pt');
    // 256 MiB of zeros deflate to ~256 KiB; the directory claims 100 bytes
    writeFileSync(path, deflatedZip('archive/data.pkl', Buffer.alloc(256 << 20), 100));
    const zip = ZipArchive.open(path);
    try {
      assert.throws(() => zip.read('archive/data.pkl'), /entry 'archive\/data\.pkl': inflates to more than its declared 100 bytes/);
    } finally {
      zip.close();
    }
    assert.throws(() => loadTorchCheckpoint(path), /bomb\.pt: entry 'archive\/data\.pkl': inflates to more than its declared 100 bytes/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a deflated entry that inflates to less than declared, or exactly, is handled', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zipshort-'));
  try {
    const data = Buffer.from('abc'.repeat(50));
    writeFileSync(join(dir, 'short.zip'), deflatedZip('x', data, 1000));
    const a = ZipArchive.open(join(dir, 'short.zip'));
    assert.throws(() => a.read('x'), /inflated to 150 bytes, expected 1000/);
    a.close();
    writeFileSync(join(dir, 'ok.zip'), deflatedZip('x', data, data.length));
    const b = ZipArchive.open(join(dir, 'ok.zip'));
    assert.deepEqual(Buffer.from(b.read('x')), data);
    b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
