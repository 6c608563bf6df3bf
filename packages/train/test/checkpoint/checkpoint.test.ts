import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, copyFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveCheckpoint, loadCheckpoint, findLatestCheckpoint, deleteCheckpoint, readCheckpointMeta } from '../../src/checkpoint/checkpoint.js';

function meta(epoch: number) {
  return { epoch, step: epoch * 10, samplesSeen: epoch * 640, name: 'run', modelConfig: { embed_dim: 32 }, trainConfig: { lr: 5e-4 }, rng: { main: { s: [1, 2, 3, 4], spare: null } }, data: { epoch, batch: 0 } };
}
const model = (v: number) => new Map([['logit_scale', { shape: [], data: new Float32Array([v]) }], ['visual.proj', { shape: [2, 2], data: new Float32Array([v, 1, 2, 3]) }]]);
const state = (v: number) => new Map([['optimizer.visual.proj.exp_avg', { shape: [2, 2], data: new Float32Array([v, v, v, v]) }]]);

test('a saved pair loads back bit-identically with its metadata', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
  const written = saveCheckpoint(dir, 'epoch_1', model(4.6), state(0.5), meta(1));
  const back = loadCheckpoint(join(dir, 'epoch_1.safetensors'));
  assert.equal(back.meta.id, written.id);
  assert.equal(back.meta.epoch, 1);
  assert.deepEqual(back.meta.rng, meta(1).rng);
  assert.deepEqual([...(back.model.get('visual.proj')!.data as Float32Array)], [...model(4.6).get('visual.proj')!.data]);
  assert.deepEqual([...(back.state.get('optimizer.visual.proj.exp_avg')!.data as Float32Array)], [0.5, 0.5, 0.5, 0.5]);
  // the model file alone holds only model tensors (what Python's --pretrained loads strictly)
  assert.deepEqual([...back.model.keys()].sort(), ['logit_scale', 'visual.proj']);
  // either file of the pair names it
  assert.equal(readCheckpointMeta(join(dir, 'epoch_1.state.safetensors')).id, written.id);
});

test('a pair whose files come from different saves is refused and skipped by latest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
  saveCheckpoint(dir, 'epoch_1', model(1), state(1), meta(1));
  saveCheckpoint(dir, 'epoch_2', model(2), state(2), meta(2));
  assert.equal(findLatestCheckpoint(dir), join(dir, 'epoch_2.safetensors'));
  // simulate a crash after the model file of epoch_3 was written but before its state file
  const other = mkdtempSync(join(tmpdir(), 'ckpt-'));
  saveCheckpoint(other, 'epoch_3', model(3), state(3), meta(3));
  copyFileSync(join(other, 'epoch_3.safetensors'), join(dir, 'epoch_3.safetensors'));
  copyFileSync(join(dir, 'epoch_2.state.safetensors'), join(dir, 'epoch_3.state.safetensors'));
  assert.throws(() => loadCheckpoint(join(dir, 'epoch_3.safetensors')), /do not belong together .*interrupted/);
  assert.equal(findLatestCheckpoint(dir), join(dir, 'epoch_2.safetensors'));
  assert.equal(loadCheckpoint(findLatestCheckpoint(dir)!).meta.epoch, 2);
});

test('epoch_latest wins when newest; delete removes both files; empty dir has no latest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
  assert.equal(findLatestCheckpoint(join(dir, 'missing')), null);
  saveCheckpoint(dir, 'epoch_1', model(1), state(1), meta(1));
  saveCheckpoint(dir, 'epoch_latest', model(2), state(2), meta(2));
  assert.equal(findLatestCheckpoint(dir), join(dir, 'epoch_latest.safetensors'));
  deleteCheckpoint(dir, 'epoch_1');
  assert.deepEqual(readdirSync(dir).sort(), ['epoch_latest.safetensors', 'epoch_latest.state.safetensors']);
  assert.throws(() => loadCheckpoint(join(dir, 'epoch_1.safetensors')), /checkpoint model file not found/);
});
