import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { referenceCheckpoints } from '@openclip/test-config';
import { loadSafetensors, type RawTensor, type TensorToWrite } from '@openclip/engine/safetensors';
import { loadModelCheckpoint as loadAny, PyDict, serializeTorchCheckpoint } from '@openclip/models';
import { writeFileSync } from 'node:fs';
import { loadTorchTrainerCheckpoint, saveTorchTrainerCheckpoint, torchAdamWToState } from '../../src/checkpoint/torch-trainer.js';

function sameTensors(a: ReadonlyMap<string, RawTensor | TensorToWrite>, b: ReadonlyMap<string, RawTensor | TensorToWrite>): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [k, t] of a) {
    const u = b.get(k)!;
    assert.deepEqual(t.shape, u.shape, k);
    assert.deepEqual(Array.from(t.data as ArrayLike<number>, Number), Array.from(u.data as ArrayLike<number>, Number), k);
  }
}

// The fixtures' trainer checkpoint checkpoints/<model>.epoch_<K>.pt and its twin models/<model>.safetensors.
const checkpoints = referenceCheckpoints();
test("OpenCLIP's epoch_K.pt: weights without 'module.', the epoch, and torch AdamW moments by parameter", { skip: checkpoints.skip('epoch') }, () => {
  const { path: pt, twin: weights } = checkpoints.epoch!;
  const raw = loadAny(pt);
  const opt = raw.trainer!.optimizer!;
  const groups = (opt.get('param_groups') as PyDict[]).map((g, i) => ({ ids: g.get('params') as number[], i }));
  // a layout with the file's group sizes, naming each torch parameter id
  const shapes = new Map<string, number[]>();
  const layout = groups.map((g) => ({
    names: g.ids.map((id) => {
      const s = (opt.get('state') as PyDict).get(id) as PyDict;
      const shape = [...(s.get('exp_avg') as RawTensor).shape];
      shapes.set(`p${id}`, shape);
      return `p${id}`;
    }),
    weightDecay: 0,
  }));
  const ck = loadTorchTrainerCheckpoint(pt, { groups: layout, shapes });
  assert.equal(ck.epoch, raw.trainer!.epoch);
  assert.ok([...ck.model.keys()].every((k) => !k.startsWith('module.')));
  sameTensors(ck.model, loadSafetensors(weights).tensors);
  for (const g of groups) {
    for (const id of g.ids) {
      const s = (opt.get('state') as PyDict).get(id) as PyDict;
      const m = s.get('exp_avg') as RawTensor;
      assert.deepEqual(Array.from(ck.optimizerState!.get(`optimizer.state.p${id}.exp_avg`)!.data as Float32Array), Array.from(m.data as Float32Array));
      assert.equal(Number(ck.optimizerState!.get(`optimizer.state.p${id}.step`)!.data[0]), Number((s.get('step') as RawTensor).data[0]));
    }
  }
  // a run whose optimizer has other groups is refused with the counts, as torch's load_state_dict refuses it
  const two = [{ names: ['a'], weightDecay: 0 }, { names: ['b'], weightDecay: 0.2 }];
  assert.throws(() => loadTorchTrainerCheckpoint(pt, { groups: two, shapes: new Map([['a', [2]], ['b', [2]]]) }), /has 1 parameter groups, this run has 2/);
});

test('epoch_K.pt written here reads back: weights, epoch, name, moments and steps; module. keys are unwrapped', () => {
  const dir = mkdtempSync(join(tmpdir(), 'openclip-pt-'));
  const model = new Map<string, TensorToWrite>([
    ['w', { dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }],
    ['b', { dtype: 'F32', shape: [3], data: Float32Array.from([0.5, -1, 2]) }],
    ['n', { dtype: 'I64', shape: [], data: BigInt64Array.of(7n) }],
  ]);
  const state = new Map<string, TensorToWrite>([
    ['optimizer.state.b.exp_avg', { dtype: 'F32', shape: [3], data: Float32Array.from([0.1, 0.2, 0.3]) }],
    ['optimizer.state.b.exp_avg_sq', { dtype: 'F32', shape: [3], data: Float32Array.from([1, 2, 3]) }],
    ['optimizer.state.b.step', { dtype: 'F64', shape: [], data: Float64Array.of(5) }],
    ['optimizer.state.w.exp_avg', { dtype: 'F32', shape: [2, 3], data: Float32Array.from([6, 5, 4, 3, 2, 1]) }],
    ['optimizer.state.w.exp_avg_sq', { dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, 1, 2, 2, 3, 3]) }],
    ['optimizer.state.w.step', { dtype: 'F64', shape: [], data: Float64Array.of(5) }],
  ]);
  const groups = [{ names: ['b'], weightDecay: 0 }, { names: ['w'], weightDecay: 0.2 }];
  const path = join(dir, 'epoch_4.pt');
  saveTorchTrainerCheckpoint(path, { epoch: 4, name: 'run', model, optimizerState: state, hyper: { lr: 1e-3, betas: [0.9, 0.98], eps: 1e-6, groups } });
  const raw = loadAny(path);
  const pgs = raw.trainer!.optimizer!.get('param_groups') as PyDict[];
  assert.deepEqual(pgs.map((g) => [g.get('params'), g.get('weight_decay'), g.get('lr')]), [[[0], 0, 1e-3], [[1], 0.2, 1e-3]]);
  const back = loadTorchTrainerCheckpoint(path, { groups, shapes: new Map([['b', [3]], ['w', [2, 3]]]) });
  assert.equal(back.epoch, 4);
  assert.equal(back.name, 'run');
  sameTensors(back.model, model);
  sameTensors(back.optimizerState!, state);

  // DDP's 'module.' prefix (OpenCLIP saves original_model, but older runs saved the wrapper)
  const sd = new PyDict('collections.OrderedDict');
  for (const [k, v] of model) sd.set(`module.${k}`, v);
  const top = new PyDict();
  top.set('epoch', 1);
  top.set('name', 'ddp');
  top.set('state_dict', sd);
  const ddp = join(dir, 'epoch_1.pt');
  writeFileSync(ddp, serializeTorchCheckpoint(top));
  const c = loadTorchTrainerCheckpoint(ddp, { groups, shapes: new Map() });
  sameTensors(c.model, model);
  assert.equal(c.optimizerState, null);
});

test('a moment of the wrong shape is named with its parameter', () => {
  const opt = new PyDict();
  const s = new PyDict();
  const st = new PyDict();
  st.set('step', { dtype: 'F32', shape: [], data: Float32Array.of(1) });
  st.set('exp_avg', { dtype: 'F32', shape: [4], data: new Float32Array(4) });
  st.set('exp_avg_sq', { dtype: 'F32', shape: [4], data: new Float32Array(4) });
  s.set(0, st);
  const pg = new PyDict();
  pg.set('params', [0]);
  opt.set('state', s);
  opt.set('param_groups', [pg]);
  assert.throws(() => torchAdamWToState(opt, [{ names: ['visual.proj'], weightDecay: 0 }], new Map([['visual.proj', [2, 2]]]), 'x.pt'), /x\.pt: optimizer\.state\[0\] \(visual\.proj\)\.exp_avg has shape \[4\], the parameter is \[2,2\]/);
});
