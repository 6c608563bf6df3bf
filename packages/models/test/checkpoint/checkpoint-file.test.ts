import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { basename, join } from 'node:path';
import { referenceCheckpoints } from '@openclip/test-config';
import { f16ToF32, f32ToF16, loadSafetensors, type RawTensor } from '@openclip/engine/safetensors';
import { loadModelCheckpoint, loadStateDict, saveStateDict } from '../../src/checkpoint/checkpoint-file.js';
import { PyDict } from '../../src/checkpoint/pickle.js';
import { buildZip, saveTorchStateDict, serializeTorchCheckpoint } from '../../src/checkpoint/torch-save.js';

// The pickles under checkpoints/, found by the layout's names, each with its safetensors twin.
const fixtures = referenceCheckpoints();
const absent = (kind: 'bin' | 'fp16' | 'epoch') => fixtures.skip(kind);

function bytesOf(t: RawTensor): Buffer {
  return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

function assertSameTensors(actual: Map<string, RawTensor>, expected: Map<string, RawTensor>, label: string) {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `${label}: key sets differ`);
  for (const [k, e] of expected) {
    const a = actual.get(k)!;
    assert.equal(a.dtype, e.dtype, `${label}: dtype of ${k}`);
    assert.deepEqual(a.shape, e.shape, `${label}: shape of ${k}`);
    assert.ok(bytesOf(a).equals(bytesOf(e)), `${label}: bytes of ${k} differ`);
  }
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'openclip-ckpt-'));
}

test('open_clip_pytorch_model.bin (torch zip pickle) equals its safetensors twin bit for bit', { skip: absent('bin') }, () => {
  const f = fixtures.bin!;
  const c = loadModelCheckpoint(f.path);
  assert.equal(c.format, 'torch-zip');
  assert.equal(c.trainer, undefined);
  assertSameTensors(c.stateDict, loadSafetensors(f.twin).tensors, basename(f.path));
});

test('the fp16 pickle loads as float16 and upcasts to exactly the float16-rounded reference', { skip: absent('fp16') }, () => {
  const { path, twin } = fixtures.fp16!;
  const ref = loadSafetensors(twin).tensors;
  const raw = loadStateDict(path, { upcast: false });
  const up = loadStateDict(path);
  assert.equal(up.size, ref.size);
  let halves = 0;
  for (const [k, r] of ref) {
    const h = raw.get(k)!;
    const u = up.get(k)!;
    assert.deepEqual(u.shape, r.shape, k);
    if (r.dtype !== 'F32') {
      assert.ok(bytesOf(u).equals(bytesOf(r)), `${k} (non-float) differs`);
      continue;
    }
    assert.equal(h.dtype, 'F16', `${k} should be stored as float16`);
    assert.equal(u.dtype, 'F32', `${k} should be upcast`);
    const expected = f16ToF32(f32ToF16(r.data as Float32Array));
    assert.ok(Buffer.from(expected.buffer).equals(bytesOf(u)), `${k}: upcast fp16 != fp16(reference)`);
    halves++;
  }
  assert.ok(halves > 0, 'the reference has float tensors');
});

test("epoch_K.pt: state_dict taken, 'module.' stripped, int64 BN counters kept, trainer entries and optimizer state exposed", { skip: absent('epoch') }, () => {
  const f = fixtures.epoch!;
  const c = loadModelCheckpoint(f.path);
  assertSameTensors(c.stateDict, loadSafetensors(f.twin).tensors, basename(f.path));
  assert.ok([...c.stateDict.keys()].every((k) => !k.startsWith('module.')));
  const counters = [...c.stateDict.entries()].filter(([k]) => k.endsWith('num_batches_tracked'));
  assert.ok(counters.length > 0 && counters.every(([, t]) => t.dtype === 'I64' && t.shape.length === 0));
  const tr = c.trainer!;
  assert.equal(tr.epoch, f.epoch);
  assert.equal(typeof tr.name, 'string');
  assert.deepEqual([...tr.entries.keys()].sort(), ['epoch', 'name', 'optimizer']);
  const opt = tr.optimizer!;
  const state = opt.get('state') as PyDict;
  const groups = opt.get('param_groups') as PyDict[];
  assert.ok(state.size > 0 && Array.isArray(groups) && groups.length > 0);
  const params = groups.flatMap((g) => g.get('params') as number[]);
  for (const [idx, s] of state) {
    assert.ok(params.includes(idx as number), `state for unknown param ${String(idx)}`);
    const st = s as PyDict;
    const avg = st.get('exp_avg') as RawTensor;
    const sq = st.get('exp_avg_sq') as RawTensor;
    assert.deepEqual(avg.shape, sq.shape);
    assert.equal(avg.dtype, 'F32');
    assert.deepEqual((st.get('step') as RawTensor).shape, [], 'AdamW step is a 0-d tensor');
  }
  assert.equal(typeof groups[0].get('lr'), 'number');
});

test('safetensors and torch write -> read round trips are bit-identical (F32, F16, BF16, I64, BOOL)', () => {
  const dir = tmp();
  try {
    const sd = new Map<string, RawTensor>([
      ['visual.proj', { dtype: 'F32', shape: [3, 2], data: new Float32Array([1.5, -0, NaN, Infinity, 1e-40, -3.25]) }],
      ['half', { dtype: 'F16', shape: [2], data: new Uint16Array([0x3c00, 0x8001]) }],
      ['bf', { dtype: 'BF16', shape: [2], data: new Uint16Array([0x3f80, 0xff80]) }],
      ['visual.bn.num_batches_tracked', { dtype: 'I64', shape: [], data: new BigInt64Array([123456789012n]) }],
      ['mask', { dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) }],
    ]);
    const st = join(dir, 'm.safetensors');
    saveStateDict(st, sd, { note: 'x' });
    const back = loadModelCheckpoint(st, { upcast: false });
    assertSameTensors(back.stateDict, sd, 'safetensors');
    assert.equal(back.metadata.note, 'x');
    // safetensors content under a torch-like name is recognised by its header
    const misnamed = join(dir, 'weights.bin');
    writeFileSync(misnamed, readFileSync(st));
    assert.equal(loadModelCheckpoint(misnamed).format, 'safetensors');
    const pt = join(dir, 'open_clip_pytorch_model.bin');
    saveTorchStateDict(pt, sd);
    assertSameTensors(loadStateDict(pt, { upcast: false }), sd, 'torch zip');
    assert.throws(() => saveStateDict(join(dir, 'bad.safetensors'), { 'module.x': sd.get('half')! }), /module\./);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('non-contiguous and shared-storage views are copied out with their strides (zip, ZIP64 and legacy formats)', () => {
  const dir = tmp();
  try {
    const base = Float32Array.from({ length: 12 }, (_, i) => i * 1.5 - 4);
    const storage = { key: 's', dtype: 'F32' as const, data: base };
    const sd = new PyDict('collections.OrderedDict');
    sd.set('plain', { dtype: 'F32', shape: [3, 4], data: base });
    sd.set('transposed', { kind: 'view', storage, offset: 0, shape: [4, 3], stride: [1, 4] });
    sd.set('window', { kind: 'view', storage, offset: 5, shape: [2, 2], stride: [4, 1] });
    sd.set('every_other', { kind: 'view', storage, offset: 1, shape: [2, 3], stride: [6, 2] });
    const top = new PyDict();
    top.set('state_dict', sd);
    top.set('epoch', 7);
    for (const [label, opts] of [['zip', {}], ['zip64', { zip64: true }], ['legacy', { legacy: true }]] as const) {
      const p = join(dir, `${label}.pt`);
      writeFileSync(p, serializeTorchCheckpoint(top, opts));
      const c = loadModelCheckpoint(p);
      assert.equal(c.format, label === 'legacy' ? 'torch-legacy' : 'torch-zip', label);
      assert.equal(c.trainer?.epoch, 7);
      const get = (k: string) => Array.from(c.stateDict.get(k)!.data as Float32Array);
      const at = (r: number, col: number) => base[r * 4 + col];
      assert.deepEqual(get('plain'), Array.from(base), label);
      assert.deepEqual(get('transposed'), [0, 1, 2, 3].flatMap((j) => [0, 1, 2].map((i) => at(i, j))), `${label} transposed`);
      assert.deepEqual(get('window'), [at(1, 1), at(1, 2), at(2, 1), at(2, 2)], `${label} window`);
      assert.deepEqual(get('every_other'), [1, 3, 5, 7, 9, 11].map((i) => base[i]), `${label} every_other`);
      assert.deepEqual(c.stateDict.get('transposed')!.shape, [4, 3]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('malformed files fail with errors naming the file, the entry and the problem', { skip: absent('bin') }, () => {
  const dir = tmp();
  try {
    const good = readFileSync(fixtures.bin!.path);
    // torch.save's archive folder, from the first zip entry's name ('<folder>/data.pkl' at offset 30).
    const archive = good.subarray(30, 30 + good.readUInt16LE(26)).toString('utf8').split('/')[0];
    const truncated = join(dir, 'truncated.bin');
    writeFileSync(truncated, good.subarray(0, good.length - 100));
    assert.throws(() => loadStateDict(truncated), (e: Error) => e.message.includes(truncated) && /end-of-central-directory|truncated/.test(e.message));

    // Flip a byte inside data.pkl: the CRC check names the entry.
    const corrupt = Buffer.from(good);
    const pklAt = corrupt.indexOf(Buffer.from('collections'));
    corrupt[pklAt] ^= 0xff;
    const corruptPath = join(dir, 'corrupt.bin');
    writeFileSync(corruptPath, corrupt);
    assert.throws(() => loadStateDict(corruptPath), (e: Error) => e.message.includes(corruptPath) && e.message.includes(`entry '${archive}/data.pkl'`) && /CRC-32/.test(e.message));

    // A global outside the allow-list is refused by name and never run.
    const evilPath = join(dir, 'evil.pt');
    const pkl = Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.from('cos\nsystem\n'), Buffer.from('X'), Buffer.from([4, 0, 0, 0]), Buffer.from('echo'), Buffer.from([0x85, 0x52, 0x2e])]);
    writeFileSync(evilPath, buildZip([{ name: 'archive/data.pkl', data: pkl }]));
    assert.throws(() => loadStateDict(evilPath), (e: Error) => e.message.includes(evilPath) && e.message.includes("'os.system'") && e.message.includes('data.pkl'));

    // A state dict entry that is not a tensor names its key.
    const notTensor = new PyDict('collections.OrderedDict');
    notTensor.set('visual.proj', 3);
    const ntPath = join(dir, 'nt.bin');
    writeFileSync(ntPath, serializeTorchCheckpoint(notTensor));
    assert.throws(() => loadStateDict(ntPath), /'visual\.proj' is not a tensor/);

    // A plain (non-torch) pickle and a random file.
    const plainPath = join(dir, 'plain.pkl');
    writeFileSync(plainPath, Buffer.from([0x80, 0x02, 0x4b, 0x05, 0x2e]));
    assert.throws(() => loadStateDict(plainPath), (e: Error) => e.message.includes(plainPath) && /legacy torch magic/.test(e.message));
    const junk = join(dir, 'junk.bin');
    writeFileSync(junk, 'hello world');
    assert.throws(() => loadStateDict(junk), (e: Error) => e.message.includes(junk) && /not a PyTorch checkpoint/.test(e.message));
    assert.throws(() => loadStateDict(join(dir, 'missing.bin')), /checkpoint not found/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('random corruption of a checkpoint gives a checkpoint error, never a crash', { skip: absent('epoch') }, () => {
  const dir = tmp();
  try {
    const good = readFileSync(fixtures.epoch!.path);
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const path = join(dir, 'fuzz.pt');
    let failures = 0;
    for (let i = 0; i < 120; i++) {
      const b = Buffer.from(good);
      let data: Buffer = b;
      if (i % 3 === 0) for (let k = 0; k < 3; k++) b[Math.floor(rnd() * b.length)] ^= 1 + Math.floor(rnd() * 255);
      else if (i % 3 === 1) data = b.subarray(0, Math.floor(rnd() * b.length));
      else b[b.length - 2000 + Math.floor(rnd() * 2000)] ^= 0xff; // the central directory region
      writeFileSync(path, data);
      try {
        loadStateDict(path);
      } catch (e) {
        failures++;
        assert.ok(['CheckpointFormatError', 'PickleError'].includes((e as Error).name), `case ${i}: ${(e as Error).stack}`);
        assert.ok((e as Error).message.includes(path), `case ${i}: error does not name the file: ${(e as Error).message}`);
      }
    }
    assert.ok(failures > 80, `${failures} of 120 corruptions detected`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checkpoints written by PyTorch 1.13 (zip and legacy) with strided views, bf16, int32/int64, bool load exactly', () => {
  // testdata/README.md has the script that wrote these files and the expected values.
  const dataDir = fileURLToPath(new URL('../../../test-support/testdata/', import.meta.url));
  const ref = JSON.parse(readFileSync(join(dataDir, 'torch113-views.json'), 'utf8')) as Record<string, { shape: number[]; values: number[] }>;
  for (const [file, format] of [['torch113-views.pt', 'torch-zip'], ['torch113-views-legacy.pt', 'torch-legacy']] as const) {
    const c = loadModelCheckpoint(join(dataDir, file));
    assert.equal(c.format, format);
    assert.equal(c.trainer?.epoch, 4);
    const groups = c.trainer!.optimizer!.get('param_groups') as PyDict[];
    assert.deepEqual(groups[0].get('betas'), [0.9, 0.98]);
    assert.deepEqual([...c.stateDict.keys()], Object.keys(ref));
    for (const [k, r] of Object.entries(ref)) {
      const t = c.stateDict.get(k)!;
      assert.deepEqual(t.shape, r.shape, `${file} ${k} shape`);
      const values = Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
      assert.deepEqual(values, r.values.map((v) => (Object.is(v, -0) ? -0 : v)), `${file} ${k} values`);
    }
    assert.equal(c.stateDict.get('long')!.dtype, 'I64');
    assert.equal(c.stateDict.get('i32')!.dtype, 'I32');
    assert.equal(c.stateDict.get('bool')!.dtype, 'BOOL');
  }
});
