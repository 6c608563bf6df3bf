// `openclip train` on a timm-tower model exactly as OpenCLIP users paste it: a real OpenCLIP 3.1.0
// config (PE-Core-T-16-384: timm Eva trunk with RoPE and a MAP head), --force-image-size to keep it
// small, and --lock-image with timm's layer groups.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadCheckpoint } from '@openclip/train';
import { openclip, tempDir, lossesFromLog } from '../test-support/openclip-cli.js';

test('openclip train --model PE-Core-T-16-384 --lock-image --lock-image-unlocked-groups 1: trains the text tower and the last trunk group only', () => {
  const dir = tempDir('timm-train');
  const r = openclip([
    'train', '--model', 'PE-Core-T-16-384', '--force-image-size', '64', '--dataset-type', 'synthetic', '--train-num-samples', '16',
    '--batch-size', '8', '--epochs', '2', '--lr', '1e-3', '--warmup', '1', '--workers', '1', '--logs', join(dir, 'logs'), '--name', 'pe',
    '--log-every-n-steps', '1', '--seed', '3', '--lock-image', '--lock-image-unlocked-groups', '1',
  ], {}, 600_000);
  assert.equal(r.status, 0, r.stderr);
  const losses = lossesFromLog(r.stdout);
  assert.equal(losses.length, 4, `one logged loss per step: ${losses}`);
  assert.ok(losses.every((l) => Number.isFinite(l) && l > 0), `finite losses: ${losses}`);
  const ck = (e: number) => loadCheckpoint(join(dir, 'logs', 'pe', 'checkpoints', `epoch_${e}.safetensors`)).model;
  const [a, b] = [ck(1), ck(2)];
  assert.ok(a.has('visual.trunk.blocks.0.attn.qkv.weight') && a.has('visual.trunk.attn_pool.latent') && a.has('text.token_embedding.weight'), 'timm keys under visual.trunk.*, text tower under text.*');
  const changed = (k: string) => {
    const x = a.get(k)!.data as Float32Array;
    const y = b.get(k)!.data as Float32Array;
    return x.some((v, i) => v !== y[i]);
  };
  const keys = [...a.keys()];
  const frozen = keys.filter((k) => /^visual\.trunk\.(blocks\.\d+\.|patch_embed|pos_embed|cls_token)/.test(k));
  assert.ok(frozen.length > 0);
  assert.deepEqual(frozen.filter(changed), [], 'the locked trunk groups (stem and every block) do not move');
  assert.ok(keys.filter((k) => k.startsWith('visual.trunk.attn_pool.')).some(changed), 'the last group (the MAP head) trains');
  assert.ok(keys.filter((k) => k.startsWith('text.')).some(changed), 'the text tower trains');
});
