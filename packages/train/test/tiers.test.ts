// Every model family and loss trains on every engine tier: one training step (forward, loss,
// backward, fused AdamW) of the real models — ViT CLIP, ModifiedResNet CLIP, CoCa, SigLIP and
// distillation — on wasm with each acceleration tier available here, compared with the plain cpu
// backend (loss, every gradient, no leaked tensors).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableTiers, numThreads } from '@openclip/engine';
import { CASES, compare, runCase } from '../test-support/step-case.js';

const tiers = availableTiers(numThreads());

for (const [name, c] of Object.entries(CASES)) {
  test(`${name}: a training step on wasm with every tier (${tiers.join(', ')}) matches the cpu backend`, { skip: c.skip }, async () => {
    const want = await runCase(c, 'cpu', 'none');
    assert.ok([...want.grads.values()].some((g) => g.some((x) => x !== 0)), 'all gradients are zero');
    for (const tier of tiers) compare(await runCase(c, 'wasm', tier), want, `${name} on wasm/${tier}`);
  });
}
