/** Test helpers: the timm-tower fixtures written by tools/fixtures/timm_towers.py (manifest + models/). */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TimmModelSpec } from './timm-registry.js';

export interface TimmCase {
  id: string;
  name: string;
  modelClass: string;
  config: string;
  weights: string;
  outputs: string;
  timm: { name: string } & TimmModelSpec;
  nParams: number;
  stateDictKeys: number;
  tensors: Record<string, { dtype: string; shape: number[] }>;
  lockTrainable: Record<string, string[]>;
  /** Image size of the force_size.* outputs (set_input_size after loading), when present. */
  forceImageSize: number | null;
  tolerance: {
    features_atol: number; features_rtol: number; normalized_atol: number; logits_atol: number;
    activations_atol: number; grad_atol: number; grad_rtol: number;
  };
}

/** `OPENCLIP_TIMM_FIXTURES_DIR`, else the committed set under packages/models/test-fixtures/timm. */
export function timmFixturesDir(): string {
  return process.env.OPENCLIP_TIMM_FIXTURES_DIR ?? fileURLToPath(new URL('../../../test-fixtures/timm', import.meta.url));
}

/** `OPENCLIP_TIMM_HYBRID_FIXTURES_DIR`, else the committed set of tools/fixtures/timm_hybrid_towers.py (ViTamin, MobileCLIP). */
export function timmHybridFixturesDir(): string {
  return process.env.OPENCLIP_TIMM_HYBRID_FIXTURES_DIR ?? fileURLToPath(new URL('../../../test-fixtures/timm-hybrid', import.meta.url));
}

/** The fixture cases of `dir` (default: the timm transformer set), or a reason to skip when the set is absent. */
export function timmCases(dir = timmFixturesDir(), generator = 'tools/fixtures/timm_towers.py'): { cases: TimmCase[]; skip: string | false } {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) return { cases: [], skip: `timm fixtures absent: no ${path} (generate with ${generator})` };
  const m = JSON.parse(readFileSync(path, 'utf8')) as { cases: Record<string, unknown>[] };
  const cases = m.cases.filter((c) => c.kind === 'clip_model').map((c) => {
    const id = c.id as string;
    return {
      id,
      name: id.replace(/^model\//, ''),
      modelClass: c.model_class as string,
      config: join(dir, c.config as string),
      weights: join(dir, c.weights as string),
      outputs: join(dir, c.outputs as string),
      timm: c.timm_model as TimmCase['timm'],
      nParams: c.n_params as number,
      stateDictKeys: c.state_dict_keys as number,
      tensors: c.tensors as TimmCase['tensors'],
      lockTrainable: c.lock_image_trainable as Record<string, string[]>,
      forceImageSize: (c.force_image_size as number | undefined) ?? null,
      tolerance: c.tolerance as TimmCase['tolerance'],
    };
  });
  return { cases, skip: false };
}
