// openclip push-to-hub against a loopback Hub, then eval of the pushed model through hf-hub:.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HubTestServer } from '@openclip/models/test-support/hub-test-server';
import { openclipAsync, tempDir, tinyModelConfig, shortRun, openclip } from '../test-support/openclip-cli.js';

function run(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = openclipAsync(args, env);
    let stdout = '';
    let stderr = '';
    c.stdout!.on('data', (d) => (stdout += d));
    c.stderr!.on('data', (d) => (stderr += d));
    c.on('exit', (status) => resolve({ status, stdout, stderr: stderr.replace(/\s*\n\s*›\s*/g, ' ') }));
  });
}

test('train, push to a (loopback) Hub, and evaluate the pushed model by its hf-hub: name', async () => {
  const dir = tempDir('hub');
  const model = tinyModelConfig(dir);
  const trained = openclip(['train', '--dataset-type', 'synthetic', '--train-num-samples', '32', '--epochs', '1', ...shortRun(model, join(dir, 'logs'), 'h')]);
  assert.equal(trained.status, 0, trained.stderr);
  const ckpt = join(dir, 'logs', 'h', 'checkpoints', 'epoch_1.safetensors');
  const server = new HubTestServer();
  const url = await server.start();
  server.requireToken = 'hf_secret';
  try {
    const env = { HF_ENDPOINT: url, HF_TOKEN: 'hf_secret', HF_HUB_CACHE: join(dir, 'cache') };
    const noToken = await run(['push-to-hub', '--model', model, '--pretrained', ckpt, '--repo-id', 'me/tiny'], { HF_ENDPOINT: url, HF_TOKEN: '' });
    assert.notEqual(noToken.status, 0);
    assert.match(noToken.stderr, /set HF_TOKEN/);
    const pushed = await run(['push-to-hub', '--model', model, '--pretrained', ckpt, '--repo-id', 'me/tiny', '--commit-message', 'demo', '--json'], env);
    assert.equal(pushed.status, 0, pushed.stderr);
    const out = JSON.parse(pushed.stdout);
    assert.equal(out.uploaded, true);
    assert.equal(server.commits.length, 1);
    const c = server.commits[0];
    assert.equal(c.summary, 'demo');
    assert.deepEqual([...c.files.keys()].sort(), ['README.md', 'open_clip_config.json', 'open_clip_model.safetensors']);
    const cfg = JSON.parse(Buffer.from(c.files.get('open_clip_config.json')!).toString('utf8'));
    assert.deepEqual(cfg.model_cfg, JSON.parse(readFileSync(model, 'utf8')));
    // evaluate the same weights from the checkpoint and from the Hub: the same numbers
    await run(['make-dataset', '--type', 'imagefolder', '--num-samples', '72', '--image-size', '32', '--seed', '9', '--out', join(dir, 'zs')], env);
    const local = await run(['eval', '--model', model, '--pretrained', ckpt, '--imagenet-val', join(dir, 'zs'), '--workers', '1', '--json'], env);
    assert.equal(local.status, 0, local.stderr);
    const hub = await run(['eval', '--model', 'hf-hub:me/tiny', '--imagenet-val', join(dir, 'zs'), '--workers', '1', '--json'], env);
    assert.equal(hub.status, 0, hub.stderr);
    assert.deepEqual(JSON.parse(hub.stdout).metrics, JSON.parse(local.stdout).metrics);
  } finally {
    await server.stop();
  }
});
