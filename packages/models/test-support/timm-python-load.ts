import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initEngine, tf } from '@openclip/engine';
import { saveStateDict } from '../src/checkpoint/checkpoint-file.js';
import { readModelConfigFile } from '../src/config/registry.js';
import { createModel } from '../src/model/create.js';
import type { CLIP } from '../src/model/clip.js';
import { asFloat, compare, readAll } from './reference-models.js';
import { registerTimmModel } from '../src/towers/timm/timm-registry.js';
import type { TimmCase } from './timm-fixtures.js';

// What we train loads in Python: the vision tower of every timm fixture model takes three SGD steps
// here (in train mode, gradients from TF.js), is saved with saveStateDict, and the real OpenCLIP 3.1.0 +
// timm 1.0.28 (timm_python_load.py under /usr/bin/python3 + torch) loads the file strictly and
// computes the same image features. Skips with the reason without Python, torch, the upstream
// sources or a case's fixture generator (which Python imports for its tiny timm registrations).

const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
const here = dirname(fileURLToPath(import.meta.url));
const pkg = resolve(here, '..', '..');
const SCRIPT = join(pkg, 'tools', 'timm_python_load.py');
const REPO = resolve(pkg, '..', '..');
const UPSTREAM = process.env.OPENCLIP_UPSTREAM_DIR ?? resolve(REPO, '..', 'shared', 'upstream');

function skipReason(cases: TimmCase[], fixtureSkip: string | false): string | false {
  if (fixtureSkip) return fixtureSkip;
  for (const g of new Set(cases.map((c) => join(REPO, c.generator)))) if (!existsSync(g)) return `fixture generator not found at ${g}`;
  if (!existsSync(join(UPSTREAM, 'open_clip-3.1.0', 'src', 'open_clip'))) return `OpenCLIP 3.1.0 sources not found at ${UPSTREAM} (set OPENCLIP_UPSTREAM_DIR)`;
  const r = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (r.status !== 0) return `${PYTHON} with torch is not available (${(r.stderr || String(r.error ?? '')).trim().split('\n').at(-1)})`;
  return false;
}

/** Registers the test over `cases` (of any fixture sets; each case names its generator). */
export function timmPythonLoadTest(label: string, cases: TimmCase[], fixtureSkip: string | false): void {
  test(`${label} models trained here load strictly in OpenCLIP + timm and give the same image features`, { skip: skipReason(cases, fixtureSkip), timeout: 900_000 }, async () => {
    await initEngine({ backend: 'wasm' });
    const dir = mkdtempSync(join(tmpdir(), 'oc-timm-pyload-'));
    try {
      const expected = new Map<string, Float32Array>();
      const jobs = [];
      for (const c of cases) {
        registerTimmModel(c.timm.name, c.timm);
        const model = createModel(readModelConfigFile(c.config), { initWeights: false }) as CLIP;
        model.loadStateDict(readAll(c.weights), { strict: true });
        const ref = readAll(c.outputs);
        const px = ref.get('inputs.pixels')!;
        const images = tf.tensor4d(asFloat(px), px.shape as [number, number, number, number]);
        const params = [...model.params.entries()].filter(([n, v]) => n.startsWith('visual.') && v.trainable).map(([, v]) => v);
        const before = new Map(params.map((v) => [v.name, v.dataSync().slice() as Float32Array]));
        model.train();
        for (let step = 0; step < 3; step++) {
          const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(model.encodeImage(images))) as tf.Scalar, params);
          for (const v of params) {
            const g = grads[v.name];
            if (g) v.assign(tf.tidy(() => tf.sub(v, tf.mul(g, 0.5))));
          }
          tf.dispose([value, ...Object.values(grads)]);
        }
        model.eval();
        const moved = params.filter((v) => v.name && compare(v.dataSync() as Float32Array, before.get(v.name)!, 0).maxAbs > 0).length;
        assert.ok(moved > params.length / 2, `${c.name}: training moved ${moved} of ${params.length} parameters`);
        const feats = model.encodeImage(images);
        expected.set(c.name, feats.dataSync() as Float32Array);
        const sd = new Map([...model.stateDict()].map(([k, v]) => [k, { dtype: 'F32' as const, shape: v.shape, data: v.dataSync() as Float32Array }]));
        const weights = join(dir, `${c.name}.safetensors`);
        saveStateDict(weights, sd);
        const pixels = join(dir, `${c.name}.pixels.safetensors`);
        saveStateDict(pixels, new Map([['pixels', { dtype: 'F32' as const, shape: px.shape, data: asFloat(px) }]]));
        jobs.push({ name: c.name, config: c.config, weights, pixels, generator: join(REPO, c.generator) });
        tf.dispose([feats, images]);
        model.dispose();
      }
      const file = join(dir, 'cases.json');
      writeFileSync(file, JSON.stringify(jobs));
      const env = { ...process.env, PYTHONPATH: ['pyshim', 'open_clip-3.1.0/src', 'timm-1.0.28'].map((p) => join(UPSTREAM, p)).join(':') };
      const r = spawnSync(PYTHON, [SCRIPT, file], { encoding: 'utf8', env, maxBuffer: 1 << 26 });
      assert.equal(r.status, 0, `python loader failed: ${r.stderr.slice(-2000)}`);
      const got = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, { missing: string[]; unexpected: string[]; image_features: number[] }>;
      for (const c of cases) {
        const g = got[c.name];
        assert.deepEqual([g.missing, g.unexpected], [[], []], `${c.name}: strict load in Python`);
        const cmp = compare(Float32Array.from(g.image_features), expected.get(c.name)!, c.tolerance.features_atol, c.tolerance.features_rtol);
        console.log(`python-load ${c.name}: image features max abs ${cmp.maxAbs.toExponential(2)}`);
        assert.ok(cmp.ok, `${c.name}: Python's features differ by ${cmp.maxAbs}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
