import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initEngine, tf } from '@openclip/engine';
import { getModelConfig } from '../src/config/registry.js';
import { l2Normalize } from '../src/model/clip.js';
import { loadStateDictInto } from '../src/model/state-dict.js';
import { asFloat, compare, readAll } from './reference-models.js';
import { ParamStore } from '../src/towers/params.js';
import { TimmModel } from '../src/towers/timm/timm-model.js';

// Real-size timm vision towers against the real OpenCLIP 3.1.0 + timm 1.0.28 (run here by
// timm_realsize_upstream.py under /usr/bin/python3 + torch, from ../shared/upstream or
// OPENCLIP_UPSTREAM_DIR) with random weights: the weights load strictly and the normalised image
// features agree within 2e-3. Skips with the reason when Python, torch or the sources are absent.

const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
const here = dirname(fileURLToPath(import.meta.url));
const SCRIPT = resolve(here, '..', '..', 'tools', 'timm_realsize_upstream.py');
const UPSTREAM = process.env.OPENCLIP_UPSTREAM_DIR ?? resolve(here, '..', '..', '..', '..', '..', 'shared', 'upstream');
const PYPATH = ['pyshim', 'open_clip-3.1.0/src', 'timm-1.0.28'].map((p) => join(UPSTREAM, p)).join(':');

function skipReason(): string | false {
  if (!existsSync(join(UPSTREAM, 'open_clip-3.1.0', 'src', 'open_clip'))) return `OpenCLIP 3.1.0 sources not found at ${UPSTREAM} (set OPENCLIP_UPSTREAM_DIR)`;
  const r = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (r.status !== 0) return `${PYTHON} with torch is not available (${(r.stderr || String(r.error ?? '')).trim().split('\n').at(-1)})`;
  return false;
}

const skip = skipReason();

/** Registers the real-size test of `models` (OpenCLIP model names with timm vision towers). */
export function timmRealsizeTest(models: string[]): void {
  const MODELS = models;
  test(`real-size timm towers (${MODELS.join(', ')}) match OpenCLIP + timm with random weights`, { skip, timeout: 1_800_000 }, async () => {
    await initEngine({ backend: process.env.OPENCLIP_TEST_BACKENDS?.split(',')[0] ?? 'wasm' });
    const out = mkdtempSync(join(tmpdir(), 'oc-timm-realsize-'));
    try {
      const r = spawnSync(PYTHON, [SCRIPT, out, ...MODELS], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: PYPATH, T: '1' }, maxBuffer: 1 << 24 });
      assert.equal(r.status, 0, `upstream script failed: ${r.stderr.slice(-2000)}`);
      const report = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, { n_params: number; keys: number }>;
      for (const name of MODELS) {
        const cfg = getModelConfig(name);
        const store = new ParamStore(null);
        const visual = new TimmModel(store, 'visual', cfg.vision_cfg, { outputDim: cfg.embed_dim });
        try {
          const weights = readAll(join(out, `${name}.visual.safetensors`));
          const loaded = loadStateDictInto(store, weights, { strict: true, source: `${name}.visual.safetensors` });
          assert.equal(loaded.loaded.length, report[name].keys, `${name}: every upstream key loads`);
          let n = 0;
          for (const v of store.params.values()) n += v.size;
          assert.equal(n, report[name].n_params, `${name}: parameter count`);
          weights.clear();
          const io = readAll(join(out, `${name}.io.safetensors`));
          const px = io.get('pixels')!;
          const images = tf.tensor4d(asFloat(px), px.shape as [number, number, number, number]);
          const want = io.get('image_features')!;
          const wantN = l2Normalize(tf.tensor(asFloat(want), want.shape));
          const t0 = Date.now();
          const f = visual.forward(images);
          const fN = l2Normalize(f);
          const ms = Date.now() - t0;
          const raw = compare(f.dataSync() as Float32Array, asFloat(want), 1e30);
          const norm = compare(fN.dataSync() as Float32Array, wantN.dataSync() as Float32Array, 2e-3);
          console.log(`realsize ${name}: normalised max abs ${norm.maxAbs.toExponential(2)}, raw max abs ${raw.maxAbs.toExponential(2)} (${ms} ms for 2 images)`);
          assert.ok(norm.ok, `${name}: normalised image features differ by ${norm.maxAbs} (> 2e-3)`);
          tf.dispose([images, wantN, f, fN]);
        } finally {
          visual.dispose();
          store.dispose();
        }
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
}
