import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { referenceDir, referenceManifest } from '@openclip/test-config';
import {
  SafetensorsFile, loadSafetensors, saveSafetensors, serializeSafetensors, parseSafetensors,
  f16ToF32, f32ToF16, bf16ToF32, f32ToBf16, toFloat32, toInt32, DTYPE_SIZES,
} from '../src/safetensors.js';

function allFixtures(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) allFixtures(p, out);
    else if (name.endsWith('.safetensors')) out.push(p);
  }
  return out;
}

/** Builds a safetensors file by hand from a header object and a data section. */
function handMade(header: unknown, data: Uint8Array, lengthOverride?: bigint): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthOverride ?? BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

const tmp = mkdtempSync(join(tmpdir(), 'openclip-st-'));
function writeTmp(name: string, bytes: Uint8Array): string {
  const p = join(tmp, name);
  writeFileSync(p, bytes);
  return p;
}

describe('safetensors reader on the reference fixtures', () => {
  const files = allFixtures(referenceDir());
  test('finds every safetensors file the manifest lists', () => {
    const listed = new Set<string>(referenceManifest().cases.flatMap((c: { files: string[] }) => c.files.filter((f) => f.endsWith('.safetensors')).map((f) => join(referenceDir(), f))));
    assert.ok(listed.size > 0, 'the manifest lists safetensors files');
    for (const f of listed) assert.ok(files.includes(f), `${f} listed in the manifest but not found`);
  });
  for (const file of files) {
    test(`reads every tensor of ${file.slice(referenceDir().length + 1)}`, () => {
      const f = SafetensorsFile.open(file);
      try {
        assert.ok(f.keys().length > 0);
        let bytes = 0;
        for (const k of f.keys()) {
          const t = f.read(k);
          const numel = t.shape.reduce((a, b) => a * b, 1);
          assert.equal(t.data.length, numel, k);
          bytes += numel * DTYPE_SIZES[t.dtype];
          if (t.dtype === 'F32') assert.ok((t.data as Float32Array).every((v) => !Number.isNaN(v)) || k.includes('nan'), k);
        }
        const header = readFileSync(file).readBigUInt64LE(0);
        assert.equal(8 + Number(header) + bytes, statSync(file).size);
      } finally {
        f.close();
      }
    });
  }
});

describe('safetensors writer', () => {
  test('round-trips every dtype and the metadata bit-exactly', () => {
    const tensors = {
      f32: { shape: [2, 3], data: new Float32Array([1, -2, 3.5, Math.PI, -0, 1e-30]) },
      f16: { dtype: 'F16' as const, shape: [3], data: f32ToF16(new Float32Array([1, 0.5, -65504])) },
      bf16: { dtype: 'BF16' as const, shape: [2], data: f32ToBf16(new Float32Array([1.5, -3])) },
      i64: { shape: [2], data: new BigInt64Array([49406n, -1n]) },
      i32: { shape: [1, 1], data: new Int32Array([7]) },
      u8: { shape: [4], data: new Uint8Array([0, 1, 254, 255]) },
      bool: { dtype: 'BOOL' as const, shape: [2], data: new Uint8Array([1, 0]) },
      scalar: { shape: [], data: new Float32Array([4.6052]) },
      empty: { shape: [0, 5], data: new Float32Array(0) },
    };
    const p = join(tmp, 'round.safetensors');
    saveSafetensors(p, tensors, { format: 'pt', epoch: '3' });
    const { tensors: back, metadata } = loadSafetensors(p);
    assert.deepEqual(metadata, { format: 'pt', epoch: '3' });
    for (const [k, t] of Object.entries(tensors)) {
      const b = back.get(k)!;
      assert.deepEqual(b.shape, t.shape, k);
      assert.deepEqual(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength), Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength), k);
    }
    assert.deepEqual([...toFloat32(back.get('f16')!)], [1, 0.5, -65504]);
    assert.deepEqual([...toFloat32(back.get('bf16')!)], [1.5, -3]);
    assert.deepEqual([...toInt32(back.get('i64')!)], [49406, -1]);
    assert.equal(readFileSync(p).readBigUInt64LE(0) % 8n, 0n, 'header padded to 8 bytes');
    assert.deepEqual(readdirSync(tmp).filter((n) => n.includes('.tmp-')), [], 'no temporary file left');
  });

  test('in-memory serialise and parse agree with the file writer', () => {
    const t = { a: { shape: [2], data: new Float32Array([1, 2]) } };
    const bytes = serializeSafetensors(t, { k: 'v' });
    const p = join(tmp, 'mem.safetensors');
    saveSafetensors(p, t, { k: 'v' });
    assert.deepEqual(Buffer.from(bytes), readFileSync(p));
    assert.deepEqual([...(parseSafetensors(bytes).tensors.get('a')!.data as Float32Array)], [1, 2]);
  });

  test('a failed write leaves the previous file intact', () => {
    const p = join(tmp, 'keep.safetensors');
    saveSafetensors(p, { a: { shape: [1], data: new Float32Array([1]) } });
    const before = readFileSync(p);
    assert.throws(() => saveSafetensors(p, { a: { shape: [3], data: new Float32Array([1]) } }), /4 bytes of data for shape \[3\]/);
    assert.deepEqual(readFileSync(p), before);
  });

  test('f16 and bf16 conversions round to nearest even and keep specials', () => {
    const vals = new Float32Array([0, -0, 1, 65504, 65520, 1e-8, 6.1e-5, 5.96e-8, Infinity, -Infinity, 1 + 2 ** -11, 1 + 3 * 2 ** -11]);
    const back = f16ToF32(f32ToF16(vals));
    assert.deepEqual([...back], [0, -0, 1, 65504, Infinity, 0, 6.097555160522461e-5, 5.960464477539063e-8, Infinity, -Infinity, 1, 1 + 2 * 2 ** -10]);
    assert.ok(Number.isNaN(f16ToF32(f32ToF16(new Float32Array([NaN])))[0]));
    const bb = bf16ToF32(f32ToBf16(new Float32Array([1 + 2 ** -8, 1 + 3 * 2 ** -8, -2.5])));
    assert.deepEqual([...bb], [1, 1 + 4 * 2 ** -8, -2.5]);
  });
});

describe('safetensors reader on malformed files', () => {
  const good = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const eight = new Uint8Array(8);
  const cases: [string, Buffer, RegExp][] = [
    ['empty', Buffer.alloc(0), /shorter than the 8-byte header length/],
    ['truncated length', Buffer.alloc(5), /shorter than the 8-byte header length/],
    ['header longer than file', handMade(good, eight, 1000n), /header length 1000 is longer than the file/],
    ['truncated data', handMade(good, new Uint8Array(4)), /tensor 'a'.*out of range.*truncated/],
    ['not json', Buffer.concat([Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{x]')]), /not valid UTF-8 JSON/],
    ['header not an object', handMade([1, 2], new Uint8Array(0)), /must be a JSON object/],
    ['unknown dtype', handMade({ a: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }, new Uint8Array(2)), /tensor 'a'.*unknown dtype "F8_E4M3"/],
    ['bad shape', handMade({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), /tensor 'a'.*invalid shape/],
    ['size mismatch', handMade({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, eight), /tensor 'a'.*byte length 8 does not match/],
    ['end before begin', handMade({ a: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, eight), /end 4 < begin 8/],
    ['out of range', handMade({ a: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, eight), /tensor 'a'.*out of range/],
    ['overlap', handMade({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, eight), /overlap/],
    ['hole', handMade({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, eight), /hole in the data section/],
    ['trailing bytes', handMade(good, new Uint8Array(12)), /data section has 12 bytes but tensors cover 8/],
    ['bad metadata', handMade({ __metadata__: { a: 1 } }, new Uint8Array(0)), /__metadata__ value of 'a' is not a string/],
  ];
  for (const [name, bytes, message] of cases) {
    test(`rejects ${name} with a clear error naming the file`, () => {
      const p = writeTmp(`${name.replace(/ /g, '_')}.safetensors`, bytes);
      assert.throws(() => SafetensorsFile.open(p), (e: Error) => {
        assert.match(e.message, message);
        assert.ok(e.message.startsWith(p), e.message);
        return true;
      });
    });
  }
  test('a good hand-made file reads back', () => {
    const data = new Uint8Array(new Float32Array([1.5, -2]).buffer);
    const p = writeTmp('good.safetensors', handMade(good, data));
    assert.deepEqual([...(loadSafetensors(p).tensors.get('a')!.data as Float32Array)], [1.5, -2]);
    assert.ok(existsSync(p));
  });
});
