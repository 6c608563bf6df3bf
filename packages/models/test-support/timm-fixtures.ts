/** Test helpers: the timm-tower fixture sets (manifest + models/), each written by a generator under tools/fixtures/. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TimmModelSpec } from '../src/towers/timm/timm-registry.js';

export interface TimmCase {
  id: string;
  name: string;
  modelClass: string;
  config: string;
  weights: string;
  outputs: string;
  timm: { name: string } & TimmModelSpec;
  /** The generator under tools/fixtures/ that wrote the case (and registers its tiny timm architectures). */
  generator: string;
  nParams: number;
  stateDictKeys: number;
  tensors: Record<string, { dtype: string; shape: number[] }>;
  lockTrainable: Record<string, string[]>;
  /** Image size of the force_size.* outputs (set_input_size after loading), when present. */
  forceImageSize: number | [number, number] | null;
  tolerance: {
    features_atol: number; features_rtol: number; normalized_atol: number; logits_atol: number;
    activations_atol: number; grad_atol: number; grad_rtol: number;
  };
}

/**
 * The committed fixture sets under packages/models/test-fixtures/, each written by its own generator:
 * timm (tools/fixtures/timm_towers.py: ViT/EVA/relpos transformers), timm-conv (timm_conv_towers.py:
 * ConvNeXt, Swin), timm-hybrid (timm_hybrid_towers.py: ViTamin, MobileCLIP's FastViT and MCi ViT).
 */
const FIXTURE_SETS = ['timm', 'timm-conv', 'timm-hybrid'];

/** `OPENCLIP_TIMM_FIXTURES_DIR` (comma-separated), else the committed sets. */
export function timmFixturesDirs(): string[] {
  const env = process.env.OPENCLIP_TIMM_FIXTURES_DIR;
  if (env) return env.split(',');
  return FIXTURE_SETS.map((d) => fileURLToPath(new URL(`../../test-fixtures/${d}`, import.meta.url)));
}

/** The fixture cases of every set, or a reason to skip when a set is absent. */
export function timmCases(): { cases: TimmCase[]; skip: string | false } {
  const cases: TimmCase[] = [];
  for (const dir of timmFixturesDirs()) {
    const path = join(dir, 'manifest.json');
    if (!existsSync(path)) return { cases: [], skip: `timm fixtures absent: no ${path} (generate with the generator under tools/fixtures/)` };
    const m = JSON.parse(readFileSync(path, 'utf8')) as { generator?: string; cases: Record<string, unknown>[] };
    if (!m.generator) throw new Error(`${path}: the manifest does not name its generator (key 'generator')`);
    for (const c of m.cases.filter((x) => x.kind === 'clip_model')) {
      const id = c.id as string;
      cases.push({
        id,
        name: id.replace(/^model\//, ''),
        modelClass: c.model_class as string,
        config: join(dir, c.config as string),
        weights: join(dir, c.weights as string),
        outputs: join(dir, c.outputs as string),
        timm: c.timm_model as TimmCase['timm'],
        generator: m.generator,
        nParams: c.n_params as number,
        stateDictKeys: c.state_dict_keys as number,
        tensors: c.tensors as TimmCase['tensors'],
        lockTrainable: c.lock_image_trainable as Record<string, string[]>,
        forceImageSize: (c.force_image_size as number | [number, number] | undefined) ?? null,
        tolerance: c.tolerance as TimmCase['tolerance'],
      });
    }
  }
  return { cases, skip: false };
}
