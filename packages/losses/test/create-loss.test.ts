import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClipLoss } from '../src/clip-loss.js';
import { CoCaLoss } from '../src/coca-loss.js';
import { createLoss } from '../src/create-loss.js';
import { DistillClipLoss } from '../src/distill-clip-loss.js';
import { SigLipLoss } from '../src/siglip-loss.js';
import { SimulatedWorld } from '../test-support/simulated-world.js';

test('createLoss chooses like open_clip.create_loss', () => {
  const clip = createLoss({ model: 'ViT-B-32', localLoss: true, gatherWithGrad: true });
  assert.ok(clip instanceof ClipLoss && !(clip instanceof CoCaLoss) && !(clip instanceof DistillClipLoss));
  assert.equal((clip as ClipLoss).localLoss, true);
  assert.equal((clip as ClipLoss).gatherWithGrad, true);
  assert.equal((clip as ClipLoss).cacheLabels, true);

  const coca = createLoss({ model: 'coca_ViT-B-32', siglip: true }) as CoCaLoss;
  assert.ok(coca instanceof CoCaLoss, 'a CoCa model wins over --siglip');
  assert.equal(coca.captionLossWeight, 2.0);
  assert.equal(coca.clipLossWeight, 1.0);
  assert.equal(coca.padId, 0);
  const weighted = createLoss({ model: 'CoCa-tiny', cocaCaptionLossWeight: 0.5, cocaContrastiveLossWeight: 0 }) as CoCaLoss;
  assert.equal(weighted.captionLossWeight, 0.5);
  assert.equal(weighted.clipLossWeight, 0);

  const distill = createLoss({ model: 'coca_ViT-B-32', distillModel: 'ViT-L-14', distillPretrained: 'openai' });
  assert.ok(distill instanceof DistillClipLoss, 'distillation wins over everything');
  assert.ok(!(createLoss({ model: 'ViT-B-32', distillModel: 'ViT-L-14' }) instanceof DistillClipLoss), 'distill needs both model and pretrained');

  const sig = createLoss({ model: 'ViT-B-16-SigLIP', siglip: true, lossDistImpl: 'gather' }) as SigLipLoss;
  assert.ok(sig instanceof SigLipLoss);
  assert.equal(sig.distImpl, 'gather');
  assert.equal((createLoss({ model: 'x', siglip: true }) as SigLipLoss).distImpl, 'bidir');
});

test('createLoss wires the world and rejects what it cannot honour', () => {
  const world = new SimulatedWorld(3);
  const loss = createLoss({ model: 'RN50', collective: world.collective(2) });
  assert.equal(loss.rank, 2);
  assert.equal(loss.worldSize, 3);
  assert.throws(() => createLoss({ model: 'RN50', worldSize: 2 }), /worldSize 2 needs a collective/);
  assert.throws(() => createLoss({ model: 'RN50', collective: world.collective(0), worldSize: 4 }), /disagrees/);
  assert.throws(() => createLoss({ model: 'RN50', horovod: true }), /--horovod is not supported/);
  assert.throws(() => createLoss({ model: '' }), /'model' \(--model\) is required/);
});
