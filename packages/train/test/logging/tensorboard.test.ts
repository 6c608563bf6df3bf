import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c, maskedCrc32c, TensorBoardWriter } from '../../src/logging/tensorboard.js';

/** An independent protobuf reader for the test: field number -> list of raw values. */
function readProto(buf: Buffer): Map<number, (number | bigint | Buffer)[]> {
  const out = new Map<number, (number | bigint | Buffer)[]>();
  let i = 0;
  const varint = (): bigint => {
    let shift = 0n, v = 0n;
    for (;;) {
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const field = key >> 3, wire = key & 7;
    let val: number | bigint | Buffer;
    if (wire === 0) val = varint();
    else if (wire === 1) { val = buf.readDoubleLE(i); i += 8; }
    else if (wire === 5) { val = buf.readFloatLE(i); i += 4; }
    else if (wire === 2) { const n = Number(varint()); val = buf.subarray(i, i + n); i += n; }
    else throw new Error(`wire type ${wire}`);
    out.set(field, [...(out.get(field) ?? []), val]);
  }
  return out;
}

test('CRC-32C matches the standard check value', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  const c = 0xe3069283;
  assert.equal(maskedCrc32c(Buffer.from('123456789')), ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0);
});

test('event files hold framed, checksummed Events with scalar summaries', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tb-'));
  const w = new TensorBoardWriter(dir, 1_700_000_000_000);
  w.addScalars({ 'train/loss': 1.25, 'train/lr': 5e-4 }, 7, 1_700_000_001);
  w.addScalars({ 'val/image_to_text_R@1': 0.5 }, 1, 1_700_000_002);
  w.close();
  assert.match(w.path, /events\.out\.tfevents\.1700000000\./);
  const data = readFileSync(w.path);
  const events = [];
  let off = 0;
  while (off < data.length) {
    const lenBytes = data.subarray(off, off + 8);
    const len = Number(lenBytes.readBigUInt64LE(0));
    assert.equal(data.readUInt32LE(off + 8), maskedCrc32c(lenBytes), 'length crc');
    const payload = data.subarray(off + 12, off + 12 + len);
    assert.equal(data.readUInt32LE(off + 12 + len), maskedCrc32c(payload), 'payload crc');
    events.push(readProto(payload));
    off += 16 + len;
  }
  assert.equal(events.length, 3);
  assert.equal(String(events[0].get(3)![0]), 'brain.Event:2');
  assert.equal(events[1].get(1)![0], 1_700_000_001);
  assert.equal(events[1].get(2)![0], 7n);
  const values = (events[1].get(5)![0] as Buffer);
  const tags = readProto(values).get(1)!.map((v) => readProto(v as Buffer));
  assert.deepEqual(tags.map((t) => String(t.get(1)![0])), ['train/loss', 'train/lr']);
  assert.equal(tags[0].get(2)![0], 1.25);
  assert.ok(Math.abs((tags[1].get(2)![0] as number) - 5e-4) < 1e-9);
});
