// One training step of each real model family and loss — ViT CLIP, ModifiedResNet CLIP, CoCa,
// SigLIP and distillation — run on a chosen backend, and the comparison of two such runs (loss,
// every gradient, the loss of a second full step). Shared by the per-tier and the webgpu tests.
// The models are the reference fixtures' cases, chosen from the manifest by kind (not by name).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { referenceDirOrNull, referenceManifest } from '@openclip/test-config';
import { initEngine, tf, loadSafetensors, Rng } from '@openclip/engine';
import { createModel, type OpenClipModel } from '@openclip/models';
import { createLoss, type OpenClipLoss } from '@openclip/losses';
import { AdamW } from '../src/optim/adamw.js';
import { TrainStep, lossInput, type MicroBatch } from '../src/train-step.js';

/** A model case of the reference fixtures: its manifest name, class, config JSON and weights file. */
export interface FixtureModel {
  name: string;
  modelClass: string;
  cfg: { vision_cfg: { layers: number | number[]; timm_model_name?: string }; text_cfg: { context_length: number; vocab_size: number }; init_logit_bias?: number; quick_gelu?: boolean };
  weights: string;
}

export interface Case {
  /** The student (the trained model); null when the fixtures have no model of the kind. */
  model: FixtureModel | null;
  /** Why the case cannot run (no fixtures, or none of the kind it needs), else false. */
  skip: string | false;
  siglip?: boolean;
  teacher?: FixtureModel | null;
}

function fixtureModels(): { dir: string | null; models: FixtureModel[] } {
  const dir = referenceDirOrNull();
  if (!dir) return { dir, models: [] };
  const models = referenceManifest()
    .cases.filter((c: { id: string; config?: string }) => c.id.startsWith('model/') && typeof c.config === 'string')
    .map((c: { id: string; model_class: string; config: string; weights: string }) => ({
      name: c.id.slice('model/'.length), modelClass: c.model_class, cfg: JSON.parse(readFileSync(join(dir, c.config), 'utf8')), weights: join(dir, c.weights),
    }));
  return { dir, models };
}

const FIXTURES = fixtureModels();
const isViT = (m: FixtureModel) => typeof m.cfg.vision_cfg.layers === 'number' && !m.cfg.vision_cfg.timm_model_name;
const isResNet = (m: FixtureModel) => Array.isArray(m.cfg.vision_cfg.layers);

/** The first manifest model that `accept` takes, and a skip reason naming what is missing. */
function pick(what: string, accept: (m: FixtureModel) => boolean): { model: FixtureModel | null; skip: string | false } {
  if (!FIXTURES.dir) return { model: null, skip: 'reference fixtures not found (no manifest.json; set OPENCLIP_REFERENCE_DIR)' };
  const model = FIXTURES.models.find(accept) ?? null;
  return { model, skip: model ? false : `the reference fixtures at ${FIXTURES.dir} have no model case with ${what}` };
}

const vitClip = pick('a ViT image tower (CLIP)', (m) => isViT(m) && m.modelClass === 'CLIP' && !m.cfg.quick_gelu);
const quickGeluTeacher = pick('QuickGELU (a distillation teacher)', (m) => m.modelClass !== 'CoCa' && m.cfg.quick_gelu === true);

export const CASES: Record<string, Case> = {
  'ViT CLIP + ClipLoss': vitClip,
  'ModifiedResNet CLIP + ClipLoss': pick('a ModifiedResNet image tower', (m) => isResNet(m) && m.modelClass !== 'CoCa'),
  'CoCa + CoCaLoss': pick('CoCa', (m) => m.modelClass === 'CoCa'),
  'ViT CLIP with logit bias + SigLipLoss': { ...pick('a logit bias (init_logit_bias)', (m) => isViT(m) && m.modelClass !== 'CoCa' && m.cfg.init_logit_bias !== undefined), siglip: true },
  'ViT CLIP + DistillClipLoss (QuickGELU teacher)': { ...vitClip, skip: vitClip.skip || quickGeluTeacher.skip, teacher: quickGeluTeacher.model },
};

function load(m: FixtureModel): OpenClipModel {
  const model = createModel(m.cfg as never, { rng: null } as never);
  model.loadStateDict(loadSafetensors(m.weights).tensors);
  return model;
}

/** Two random captions framed by the tokenizer's start and end ids (the last two of the vocabulary). */
function makeBatch(model: OpenClipModel, ctx: number, vocab: number, seed: number): MicroBatch {
  const size = Number((model.config.vision_cfg as { image_size: number }).image_size);
  const B = 2;
  const rng = new Rng(seed);
  const images = rng.fillNormal(new Float32Array(B * 3 * size * size));
  const tokens = new Int32Array(B * ctx);
  for (let b = 0; b < B; b++) {
    const len = 3 + Math.floor(rng.random() * (ctx - 4));
    tokens[b * ctx] = vocab - 2;
    for (let i = 1; i < len; i++) tokens[b * ctx + i] = 1 + Math.floor(rng.random() * Math.min(40000, vocab - 3));
    tokens[b * ctx + len] = vocab - 1;
  }
  return { images: tf.tensor4d(images, [B, 3, size, size]), tokens: tf.tensor2d(tokens, [B, ctx], 'int32') };
}

export interface StepOut {
  loss: number;
  grads: Map<string, Float32Array>;
  stepLoss: number;
}

export async function runCase(c: Case, backend: string, accel: string): Promise<StepOut> {
  if (!c.model || c.skip) throw new Error(`runCase: ${c.skip || 'no model'}`);
  await initEngine({ backend, accel });
  const model = load(c.model);
  model.train();
  const teacher = c.teacher ? load(c.teacher) : null;
  teacher?.eval();
  const loss: OpenClipLoss = createLoss({
    // OpenCLIP picks CoCaLoss for a model name containing "coca".
    model: c.model.modelClass === 'CoCa' ? `coca:${c.model.name}` : c.model.name,
    siglip: c.siglip,
    distillModel: c.teacher ? c.teacher.name : null,
    distillPretrained: c.teacher ? 'fixture' : null,
  });
  const mb = makeBatch(model, c.model.cfg.text_cfg.context_length, c.model.cfg.text_cfg.vocab_size, 7);
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
  assert.equal(tf.memory().numTensors, before, `${c.model.name} on ${backend}/${accel}: a training step leaked tensors`);
  out.stepLoss = res.total;
  assert.ok(Number.isFinite(res.total), `${c.model.name} on ${backend}/${accel}: loss ${res.total}`);
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
