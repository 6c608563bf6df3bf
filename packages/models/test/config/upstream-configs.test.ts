import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@openclip/test-config';
import { builtinConfigDir } from '../../src/config/registry.js';
import { EXTERNAL_TOWER_MODELS } from '../../src/config/external-models.js';

// OpenCLIP's own model_configs, when the upstream source sits beside the repository (../shared/upstream)
const upstream = join(repoRoot(), '..', 'shared', 'upstream', 'open_clip-3.1.0', 'src', 'open_clip', 'model_configs');

test('the built-in configs are exactly OpenCLIP 3.1.0 configs (every native one, the timm ones this port builds, plus the demo), unchanged', (t) => {
  if (!existsSync(upstream)) return t.skip(`OpenCLIP 3.1.0 source not found at ${upstream}`);
  const ours = readdirSync(builtinConfigDir()).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
  const theirs = readdirSync(upstream).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
  const extra = ours.filter((n) => !theirs.includes(n));
  assert.deepEqual(extra, ['ViT-Tiny-8-64-demo'], 'configs that are not OpenCLIP 3.1.0 configs');
  const missing = theirs.filter((n) => !ours.includes(n) && !EXTERNAL_TOWER_MODELS.includes(n));
  assert.deepEqual(missing, [], 'OpenCLIP configs with native towers that are not built in');
  for (const n of ours.filter((x) => theirs.includes(x))) {
    assert.deepEqual(JSON.parse(readFileSync(join(builtinConfigDir(), `${n}.json`), 'utf8')), JSON.parse(readFileSync(join(upstream, `${n}.json`), 'utf8')), n);
  }
});
