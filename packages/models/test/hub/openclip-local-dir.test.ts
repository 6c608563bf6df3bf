import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initEngine, tf, SafetensorsFile } from '@openclip/engine';
import { saveSafetensors, type TensorToWrite } from '@openclip/engine/safetensors';
import { parsePreprocessConfig } from '@openclip/data';
import { readModelConfigFile } from '../../src/config/registry.js';
import { MODEL_CONFIG_KEYS } from '../../src/config/model-config.js';
import { createModel } from '../../src/model/create.js';
import '../../src/coca/coca.js';
import { isViT, modelCase, modelCaseNames, pickModelCase, readAll } from '../../test-support/reference-models.js';
import { writeHubFolder } from '../../src/hub/push-to-hub.js';

// A folder written by writeHubFolder (push-to-hub --output-dir) read the way OpenCLIP 3.1.0's
// create_model_and_transforms('local-dir:<folder>') reads it, by check_openclip_local_dir.py under
// /usr/bin/python3 + torch, and compared with the state dicts real OpenCLIP 3.1.0 produced for the
// same configs (shared/fixtures/reference/models). OpenCLIP itself cannot be installed here.

const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
const here = dirname(fileURLToPath(import.meta.url));
const SCRIPT = resolve(here, '..', '..', '..', 'tools', 'check_openclip_local_dir.py');
const torchCheck = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
const SKIP = torchCheck.status === 0 ? false : `${PYTHON} with torch is not available (${(torchCheck.stderr || String(torchCheck.error ?? '')).trim().split('\n').at(-1)})`;

// Every model case of the manifest (CLIP-family and CoCa).
const CLIP_CASES = modelCaseNames('clip_model');
const COCA_CASES = modelCaseNames('coca');
const CASES = [...CLIP_CASES.names, ...COCA_CASES.names];
const NO_CASES = CASES.length ? false : CLIP_CASES.skip || COCA_CASES.skip;
// The incompatibility checks edit a ViT CLIP without QuickGELU (top-level ln_final.bias, text_projection, visual.proj).
// A text width other than embed_dim makes text_projection [W, E] non-square, so transposing it is a shape error.
const VIT_CLIP = pickModelCase('a ViT image tower, the text tower at the top level (CLIP), GELU and a non-square text_projection',
  (c) => isViT(c) && c.modelClass === 'CLIP' && !c.cfg.quick_gelu && c.cfg.text_cfg.width !== c.cfg.embed_dim);

interface Report {
  name: string;
  ok: boolean;
  errors: string[];
  model_class?: string;
  checkpoint?: string | null;
  n_tensors?: number;
  values_equal?: boolean;
  preprocess?: Record<string, unknown>;
  metadata?: Record<string, string> | null;
}

function runChecker(cases: { name: string; folder: string; ref_config: string; ref_weights: string }[]): Report[] {
  const dir = mkdtempSync(join(tmpdir(), 'oc-check-'));
  const file = join(dir, 'cases.json');
  writeFileSync(file, JSON.stringify(cases));
  const r = spawnSync(PYTHON, [SCRIPT, file], { encoding: 'utf8', maxBuffer: 1 << 26 });
  rmSync(dir, { recursive: true, force: true });
  assert.equal(r.status, 0, `checker failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Report[];
}

/** Builds the fixture model, loads OpenCLIP's weights strictly and writes it as a Hub folder. */
function writeFixtureFolder(name: string, root: string): { folder: string; refConfig: string; refWeights: string } {
  const c = modelCase(name);
  const cfg = readModelConfigFile(c.config);
  const model = createModel(cfg, { initWeights: false });
  try {
    model.loadStateDict(readAll(c.weights), { strict: true, source: c.weights });
    const folder = join(root, name);
    writeHubFolder(model, folder, { modelName: name, preprocessCfg: parsePreprocessConfig({ image_size: cfg.vision_cfg.image_size }) });
    return { folder, refConfig: c.config, refWeights: c.weights };
  } finally {
    model.dispose();
  }
}

test('folders written for every fixture model read as OpenCLIP 3.1.0 local-dir: the same class, config, keys, shapes, dtypes and values', { skip: SKIP || NO_CASES }, async () => {
  await initEngine({ backend: 'cpu' });
  const before = tf.memory().numTensors;
  const root = mkdtempSync(join(tmpdir(), 'oc-local-dir-'));
  try {
    const cases = CASES.map((name) => {
      const f = writeFixtureFolder(name, root);
      return { name, folder: f.folder, ref_config: f.refConfig, ref_weights: f.refWeights };
    });
    assert.equal(tf.memory().numTensors, before, 'writing folders leaks no tensor');
    const reports = runChecker(cases);
    for (const r of reports) {
      assert.deepEqual(r.errors, [], `${r.name}: ${r.errors.join('\n')}`);
      assert.equal(r.ok, true);
      assert.equal(r.model_class, modelCase(r.name).modelClass, r.name);
      assert.equal(r.checkpoint, 'open_clip_model.safetensors');
      assert.equal(r.values_equal, true, `${r.name}: tensors written back differ from OpenCLIP's`);
      const ref = SafetensorsFile.open(modelCase(r.name).weights);
      try {
        assert.equal(r.n_tensors, ref.keys().length, `${r.name}: tensor count`);
      } finally {
        ref.close();
      }
      assert.equal(r.metadata?.format, 'pt');
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the local-dir checker fails on each kind of incompatibility OpenCLIP would reject', { skip: SKIP || VIT_CLIP.skip }, async () => {
  await initEngine({ backend: 'cpu' });
  const root = mkdtempSync(join(tmpdir(), 'oc-local-dir-bad-'));
  const { cfg } = modelCase(VIT_CLIP.name);
  try {
    const base = writeFixtureFolder(VIT_CLIP.name, root);
    const variant = (tag: string, edit: (dir: string) => void) => {
      const dir = join(root, tag);
      mkdirSync(dir);
      for (const f of ['open_clip_config.json', 'open_clip_model.safetensors', 'README.md']) copyFileSync(join(base.folder, f), join(dir, f));
      edit(dir);
      return { name: tag, folder: dir, ref_config: base.refConfig, ref_weights: base.refWeights };
    };
    const editConfig = (dir: string, fn: (c: { model_cfg: Record<string, unknown>; preprocess_cfg: Record<string, unknown> }) => void) => {
      const p = join(dir, 'open_clip_config.json');
      const c = JSON.parse(readFileSync(p, 'utf8'));
      fn(c);
      writeFileSync(p, JSON.stringify(c));
    };
    const editWeights = (dir: string, fn: (m: Map<string, TensorToWrite>) => void) => {
      const p = join(dir, 'open_clip_model.safetensors');
      const m = new Map<string, TensorToWrite>();
      for (const [k, v] of readAll(p)) m.set(k, { dtype: 'F32', shape: [...v.shape], data: Float32Array.from(v.data as Float32Array) });
      fn(m);
      saveSafetensors(p, m, { format: 'pt' });
    };
    const cases = [
      variant('extra-top-level-key', (d) => editConfig(d, (c) => { c.model_cfg.preprocess_cfg = { mean: [0, 0, 0] }; })),
      variant('unknown-vision-key', (d) => editConfig(d, (c) => { (c.model_cfg.vision_cfg as Record<string, unknown>).patch_sise = 8; })),
      variant('quick-gelu-lost', (d) => editConfig(d, (c) => { c.model_cfg.quick_gelu = true; })),
      variant('bad-resize-mode', (d) => editConfig(d, (c) => { c.preprocess_cfg.resize_mode = 'crop'; })),
      variant('missing-key', (d) => editWeights(d, (m) => m.delete('ln_final.bias'))),
      variant('wrong-shape', (d) => editWeights(d, (m) => {
        const t = m.get('text_projection')!;
        m.set('text_projection', { ...t, shape: [...t.shape].reverse() });
      })),
      variant('changed-value', (d) => editWeights(d, (m) => {
        const t = m.get('visual.proj')!;
        const data = Float32Array.from(t.data as Float32Array);
        data[0] += 1;
        m.set('visual.proj', { ...t, data });
      })),
      variant('bin-only', (d) => renameSync(join(d, 'open_clip_model.safetensors'), join(d, 'weights.safetensors'))),
      variant('no-config', (d) => rmSync(join(d, 'open_clip_config.json'))),
    ];
    const reports = new Map(runChecker(cases).map((r) => [r.name, r]));
    const expect: Record<string, RegExp> = {
      'extra-top-level-key': /CLIP\.__init__\(\) got an unexpected keyword argument 'preprocess_cfg'/,
      'unknown-vision-key': /vision_cfg: unexpected keyword argument 'patch_sise'/,
      'quick-gelu-lost': /model_cfg quick_gelu: true but the reference has false/i,
      'bad-resize-mode': /resize_mode: 'crop'/,
      'missing-key': /missing keys \(strict load fails\): \['ln_final\.bias'\]/,
      'wrong-shape': new RegExp(`text_projection: shape \\[${cfg.embed_dim}, ${cfg.text_cfg.width}\\] but OpenCLIP builds \\[${cfg.text_cfg.width}, ${cfg.embed_dim}\\]`),
      'bin-only': /OpenCLIP would load 'weights\.safetensors'/,
      'no-config': /open_clip_config\.json: missing/,
    };
    for (const [name, re] of Object.entries(expect)) {
      const r = reports.get(name)!;
      assert.equal(r.ok, false, `${name} must fail`);
      assert.ok(r.errors.some((e) => re.test(e)), `${name}: ${JSON.stringify(r.errors)}`);
    }
    // a changed value still loads (strict load checks names and shapes only) but is reported as different
    const changed = reports.get('changed-value')!;
    assert.deepEqual(changed.errors, []);
    assert.equal(changed.values_equal, false);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("the checker's 3.1.0 dataclass fields are the ones our config parser accepts (no silent drift between the two)", { skip: SKIP }, () => {
  const r = spawnSync(PYTHON, [SCRIPT, '--fields'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const py = JSON.parse(r.stdout) as Record<string, string[]>;
  for (const section of ['vision_cfg', 'text_cfg', 'multimodal_cfg'] as const) {
    assert.deepEqual([...py[section]].sort(), [...MODEL_CONFIG_KEYS[section]].sort(), section);
  }
  assert.deepEqual(py.preprocess_cfg.sort(), ['fill_color', 'interpolation', 'mean', 'mode', 'resize_mode', 'size', 'std']);
});
