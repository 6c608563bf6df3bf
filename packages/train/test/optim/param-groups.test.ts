import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile } from '@openclip/engine/safetensors';
import { fixtureSkip, referenceDir } from '@openclip/test-config';
import { excludeFromWeightDecay, openclipParamGroups } from '../../src/optim/param-groups.js';

// Fixture case `train_step`: optimizer.groups lists main.py's two groups for its model.
test("parameter groups match OpenCLIP main.py on the train_step fixture's model, in named_parameters order", { skip: fixtureSkip('train_step', ['train/train_step.json']) }, () => {
  const dir = referenceDir();
  const json = JSON.parse(readFileSync(join(dir, 'train', 'train_step.json'), 'utf8'));
  const file = SafetensorsFile.open(join(dir, json.weights));
  try {
    const order: string[] = JSON.parse(file.metadata.state_dict_key_order);
    const params = new Map(order.map((name) => [name, { shape: file.entry(name).shape }]));
    const [noDecay, decay] = openclipParamGroups(params, json.optimizer.weight_decay);
    const want = json.optimizer.groups as { weight_decay: number; params: string[] }[];
    assert.deepEqual(noDecay, { names: want[0].params, weightDecay: 0 });
    // main.py lists the decayed group in named_parameters order too; compare as sets and sizes.
    assert.equal(decay.weightDecay, want[1].weight_decay);
    assert.deepEqual([...decay.names].sort(), [...want[1].params].sort());
  } finally {
    file.close();
  }
});

test('the exclude rule is substring-based like the lambda', () => {
  assert.equal(excludeFromWeightDecay('token_embedding.weight', [49408, 512]), false);
  assert.equal(excludeFromWeightDecay('positional_embedding', [77, 512]), false);
  assert.equal(excludeFromWeightDecay('visual.class_embedding', [768]), true);
  assert.equal(excludeFromWeightDecay('visual.trunk.stem.bn1.weight', [3, 3]), true, "'bn' anywhere");
  assert.equal(excludeFromWeightDecay('visual.attnpool.k_proj.bias', [64]), true);
  assert.equal(excludeFromWeightDecay('logit_bias', []), true);
  assert.equal(excludeFromWeightDecay('text.text_projection.weight', [32, 64]), false);
  const g = openclipParamGroups(new Map([['a.weight', { shape: [2, 2], trainable: false }], ['b.weight', { shape: [2, 2] }]]), 0.1);
  assert.deepEqual(g[1].names, ['b.weight'], 'frozen parameters are left out');
  assert.throws(() => openclipParamGroups(new Map(), -1), /--wd must be a finite non-negative number/);
});
