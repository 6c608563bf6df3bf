/** Test helpers: the reference fixtures of OpenCLIP 3.1.0 (models/*) read in place. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile, tf, toFloat32, toInt32 } from '@openclip/engine';
import type { RawTensor, Tensor } from '@openclip/engine';
import { referenceDir, referenceDirOrNull, referenceManifest } from '@openclip/test-config';

export interface ModelCase {
  id: string;
  name: string;
  config: string;
  weights: string;
  outputs: string;
  imageKeys: string[];
  nParams: number;
  /** OpenCLIP's class for the case (CLIP, CustomTextCLIP, CoCa). */
  modelClass: string;
  tolerance: { features_atol: number; features_rtol: number; normalized_atol: number; logits_atol: number };
  tensors: Record<string, { shape: number[] }>;
  /** The parsed model-config JSON (embed_dim, vision_cfg, text_cfg, ...). */
  cfg: ModelConfigJson;
}

/** The parts of an OpenCLIP model-config JSON the tests read sizes from. */
export interface ModelConfigJson {
  embed_dim: number;
  vision_cfg: { image_size: number; layers: number | number[]; width: number; patch_size?: number | null; timm_model_name?: string };
  text_cfg: { context_length: number; vocab_size: number; width: number; layers: number };
  [key: string]: unknown;
}

export function modelCase(name: string): ModelCase {
  const manifest = referenceManifest();
  const c = manifest.cases.find((x: { id: string }) => x.id === `model/${name}`);
  if (!c) throw new Error(`fixture case model/${name} not in manifest`);
  const dir = referenceDir();
  return {
    id: c.id,
    name,
    config: join(dir, c.config),
    weights: join(dir, c.weights),
    outputs: join(dir, c.files.find((f: string) => f.endsWith('.outputs.safetensors')) ?? `models/${name}.outputs.safetensors`),
    imageKeys: c.image_inputs.keys,
    nParams: c.n_params,
    modelClass: c.model_class,
    tolerance: c.tolerance,
    tensors: c.tensors,
    cfg: JSON.parse(readFileSync(join(dir, c.config), 'utf8')),
  };
}

/** A ViT image tower (OpenCLIP's VisionTransformer: `layers` is a number, no timm model). */
export const isViT = (c: ModelCase): boolean => typeof c.cfg.vision_cfg.layers === 'number' && !c.cfg.vision_cfg.timm_model_name;
/** A ModifiedResNet image tower (`layers` is a list). */
export const isResNet = (c: ModelCase): boolean => Array.isArray(c.cfg.vision_cfg.layers);

/**
 * The first `model/<name>` case of the manifest (in its order) that `accept` takes, so a test
 * needs a kind of model rather than a name; `skip` says why when the fixtures have none.
 */
export function pickModelCase(what: string, accept: (c: ModelCase) => boolean = () => true): { name: string; skip: string | false } {
  const dir = referenceDirOrNull();
  if (!dir) return { name: '', skip: 'reference fixtures not found (no manifest.json; set OPENCLIP_REFERENCE_DIR)' };
  const found = referenceManifest()
    .cases.filter((c: { id: string; config?: string }) => c.id.startsWith('model/') && typeof c.config === 'string')
    .map((c: { id: string }) => modelCase(c.id.slice('model/'.length)))
    .find(accept) as ModelCase | undefined;
  return found ? { name: found.name, skip: false } : { name: '', skip: `the reference fixtures at ${dir} have no model case with ${what}` };
}

/**
 * The names of the manifest's `model/<name>` cases of one kind ('clip_model', 'coca'), in manifest
 * order, and a skip reason when there are none (no fixtures, or a fixture set without that kind).
 */
export function modelCaseNames(kind: string): { names: string[]; skip: string | false } {
  const dir = referenceDirOrNull();
  if (!dir) return { names: [], skip: 'reference fixtures not found (no manifest.json; set OPENCLIP_REFERENCE_DIR)' };
  const names = referenceManifest()
    .cases.filter((c: { id: string; kind: string }) => c.kind === kind && c.id.startsWith('model/'))
    .map((c: { id: string }) => c.id.slice('model/'.length));
  return { names, skip: names.length ? false : `the reference fixtures at ${dir} have no '${kind}' case` };
}

export function readAll(path: string): Map<string, RawTensor> {
  const f = SafetensorsFile.open(path);
  try {
    return f.readAll();
  } finally {
    f.close();
  }
}

/** The fixture's preprocessed pixels stacked to [N, 3, S, S]. */
export function fixtureImages(c: ModelCase): Tensor {
  const f = SafetensorsFile.open(join(referenceDir(), 'preprocess', 'preprocess.safetensors'));
  try {
    const parts = c.imageKeys.map((k) => f.readFloat32(k));
    const [ch, h, w] = parts[0].shape;
    const data = new Float32Array(parts.length * ch * h * w);
    parts.forEach((p, i) => data.set(p.data, i * ch * h * w));
    return tf.tensor4d(data, [parts.length, ch, h, w]);
  } finally {
    f.close();
  }
}

export function asFloat(t: RawTensor): Float32Array {
  return toFloat32(t);
}

export function asTokens(t: RawTensor): Tensor {
  return tf.tensor2d(toInt32(t, 'inputs.text_tokens'), t.shape as [number, number], 'int32');
}

/** Max |a-b| and whether every element satisfies |a-b| <= atol + rtol·|b|. */
export function compare(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol = 0): { maxAbs: number; ok: boolean; worst: number } {
  if (got.length !== want.length) throw new Error(`length ${got.length} vs ${want.length}`);
  let maxAbs = 0;
  let ok = true;
  let worst = -1;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= atol + rtol * Math.abs(want[i]))) {
      ok = false;
      if (worst < 0) worst = i;
    }
    if (!(d <= maxAbs)) maxAbs = d;
  }
  return { maxAbs, ok, worst };
}

/** The PyTorch state_dict key order recorded in a fixture's metadata (JSON list). */
export function keyOrder(path: string): string {
  const f = SafetensorsFile.open(path);
  try {
    const order = f.metadata.state_dict_key_order;
    if (!order) throw new Error(`${path}: no state_dict_key_order metadata`);
    return order;
  } finally {
    f.close();
  }
}
