import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { listModels } from '@openclip/models/pretrained';

const bin = fileURLToPath(new URL('../../../bin/run.js', import.meta.url));
const probe = fileURLToPath(new URL('../../../test-support/tfjs-probe.mjs', import.meta.url));
function openclip(args: string[]) {
  return spawnSync(process.execPath, ['--import', probe, bin, ...args], { encoding: 'utf8' });
}

test('list-models lists the registry without loading TensorFlow.js', () => {
  const r = openclip(['list-models', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { models: { name: string; pretrained: string[] }[] };
  assert.deepEqual(out.models.map((m) => m.name), listModels());
  assert.match(r.stderr, /tfjs-loaded=false/);
  // the probe itself sees TF.js where a command loads it
  const info = openclip(['info', '--json']);
  assert.equal(info.status, 0, info.stderr);
  assert.match(info.stderr, /tfjs-loaded=true/);
});
