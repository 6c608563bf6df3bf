// One training step of each real model family and loss — ViT CLIP, ModifiedResNet CLIP, CoCa,
// SigLIP and distillation — run on a chosen backend, and the comparison of two such runs (loss,
// every gradient, the loss of a second full step). Shared by the per-tier and the webgpu tests.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { referenceDir } from '@openclip/test-config';
import { initEngine, tf, loadSafetensors, Rng } from '@openclip/engine';
import { createModel, type OpenClipModel } from '@openclip/models';
import { createLoss, type OpenClipLoss } from '@openclip/losses';
import { AdamW } from '../optim/adamw.js';
import { TrainStep, lossInput, type MicroBatch } from '../train-step.js';

export interface Case {
  model: string;
  weights: string;
  lossModel: string;
  siglip?: boolean;
  teacher?: { model: string; weights: string };
}

export const CASES: Record<string, Case> = {
  'ViT CLIP + ClipLoss': { model: 'vit_tiny', weights: 'vit_tiny', lossModel: 'ViT-tiny' },
  'ModifiedResNet CLIP + ClipLoss': { model: 'resnet_tiny', weights: 'resnet_tiny', lossModel: 'RN-tiny' },
  'CoCa + CoCaLoss': { model: 'coca_tiny', weights: 'coca_tiny', lossModel: 'coca_tiny' },
  'ViT CLIP with logit bias + SigLipLoss': { model: 'vit_variant_a', weights: 'vit_variant_a', lossModel: 'ViT-variant', siglip: true },
  'ViT CLIP + DistillClipLoss (QuickGELU teacher)': { model: 'vit_tiny', weights: 'vit_tiny', lossModel: 'ViT-tiny', teacher: { model: 'vit_tiny_quickgelu', weights: 'vit_tiny' } },
};

function load(name: string, weights: string): OpenClipModel {
  const ref = referenceDir();
  const config = JSON.parse(readFileSync(join(ref, 'models', `${name}.config.json`), 'utf8'));
  const model = createModel(config, { rng: null } as never);
  model.loadStateDict(loadSafetensors(join(ref, 'models', `${weights}.safetensors`)).tensors);
  return model;
}

function makeBatch(model: OpenClipModel, ctx: number, seed: number): MicroBatch {
  const size = Number((model.config.vision_cfg as { image_size: number }).image_size);
  const B = 2;
  const rng = new Rng(seed);
  const images = rng.fillNormal(new Float32Array(B * 3 * size * size));
  const tokens = new Int32Array(B * ctx);
  for (let b = 0; b < B; b++) {
    const len = 3 + Math.floor(rng.random() * (ctx - 4));
    tokens[b * ctx] = 49406;
    for (let i = 1; i < len; i++) tokens[b * ctx + i] = 1 + Math.floor(rng.random() * 40000);
    tokens[b * ctx + len] = 49407;
  }
  return { images: tf.tensor4d(images, [B, 3, size, size]), tokens: tf.tensor2d(tokens, [B, ctx], 'int32') };
}

export interface StepOut {
  loss: number;
  grads: Map<string, Float32Array>;
  stepLoss: number;
}

export async function runCase(c: Case, backend: string, accel: string): Promise<StepOut> {
  await initEngine({ backend, accel });
  const model = load(c.model, c.weights);
  model.train();
  const teacher = c.teacher ? load(c.teacher.model, c.teacher.weights) : null;
  teacher?.eval();
  const loss: OpenClipLoss = createLoss({
    model: c.lossModel,
    siglip: c.siglip,
    distillModel: c.teacher ? c.teacher.model : null,
    distillPretrained: c.teacher ? 'fixture' : null,
  });
  const ctx = c.model.startsWith('coca') ? 76 : 77;
  const mb = makeBatch(model, ctx, 7);
  const trainable = [...model.params.keys()].filter((k) => !model.frozen.has(k));
  const vars = trainable.map((k) => model.params.get(k)!);
  const nameOf = new Map(trainable.map((k) => [model.params.get(k)!.name, k]));

  const teacherOut = teacher ? tf.tidy(() => teacher.forward(mb.images, mb.tokens) as unknown as tf.TensorContainer) : null;
  const r = tf.variableGrads(
    () => tf.addN(Object.values(loss.call(lossInput(model.forward(mb.images, mb.tokens), teacherOut as never)))) as tf.Scalar,
    vars,
  );
  const out: StepOut = { loss: r.value.dataSync()[0], grads: new Map(), stepLoss: NaN };
  for (const [vn, g] of Object.entries(r.grads)) out.grads.set(nameOf.get(vn)!, (g.dataSync() as Float32Array).slice());
  tf.dispose([r.value, ...Object.values(r.grads)]);
  if (teacherOut) tf.dispose(teacherOut);

  // the full step (fused AdamW included) twice: the second one must not add tensors
  const optimizer = new AdamW(model.params, { lr: 1e-3, betas: [0.9, 0.98], eps: 1e-6, groups: [{ names: trainable, weightDecay: 0.2 }] });
  const step = new TrainStep(model, loss, optimizer, { trainable, teacher });
  step.run([mb], 1e-3);
  const before = tf.memory().numTensors;
  const res = step.run([mb], 1e-3);
  assert.equal(tf.memory().numTensors, before, `${c.model} on ${backend}/${accel}: a training step leaked tensors`);
  out.stepLoss = res.total;
  assert.ok(Number.isFinite(res.total), `${c.model} on ${backend}/${accel}: loss ${res.total}`);
  tf.dispose([mb.images, mb.tokens]);
  for (const m of [model, teacher]) m?.dispose?.();
  return out;
}

export function compare(got: StepOut, want: StepOut, label: string): void {
  assert.ok(Math.abs(got.loss - want.loss) <= 1e-4 * Math.max(1, Math.abs(want.loss)), `${label}: loss ${got.loss} vs ${want.loss}`);
  assert.equal(got.grads.size, want.grads.size, `${label}: gradient count`);
  for (const [k, w] of want.grads) {
    const g = got.grads.get(k);
    assert.ok(g, `${label}: no gradient for ${k}`);
    let scale = 0, diff = 0;
    for (let i = 0; i < w.length; i++) {
      scale = Math.max(scale, Math.abs(w[i]));
      diff = Math.max(diff, Math.abs(g[i] - w[i]));
    }
    assert.ok(diff <= 2e-3 * scale + 1e-7, `${label}: gradient of ${k} differs by ${diff} (scale ${scale})`);
  }
  assert.ok(Math.abs(got.stepLoss - want.stepLoss) <= 1e-3 * Math.max(1, Math.abs(want.stepLoss)), `${label}: second-step loss ${got.stepLoss} vs ${want.stepLoss}`);
}
