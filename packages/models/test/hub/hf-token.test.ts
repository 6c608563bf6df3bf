import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HubTestServer } from '../../test-support/hub-test-server.js';
import { hfHubDownload } from '../../src/hub/hf-download.js';
import { hfTokenPath } from '@openclip/common';
import { hfToken } from '../../src/hub/hf-token.js';

const server = new HubTestServer();
after(() => server.stop());

test("the token comes from HF_TOKEN, then HUGGING_FACE_HUB_TOKEN, then huggingface-cli login's file", () => {
  const home = mkdtempSync(join(tmpdir(), 'openclip-hfhome-'));
  assert.equal(hfTokenPath({ HF_HOME: home }), join(home, 'token'));
  assert.equal(hfTokenPath({ HF_HOME: home, HF_TOKEN_PATH: '/x/tok' }), '/x/tok');
  assert.equal(hfToken({ HF_HOME: home }), null);
  writeFileSync(join(home, 'token'), 'hf_from_file\n');
  assert.deepEqual(hfToken({ HF_HOME: home }), { token: 'hf_from_file', source: join(home, 'token') });
  assert.deepEqual(hfToken({ HF_HOME: home, HUGGING_FACE_HUB_TOKEN: 'hf_old' }), { token: 'hf_old', source: 'HUGGING_FACE_HUB_TOKEN' });
  assert.deepEqual(hfToken({ HF_HOME: home, HUGGING_FACE_HUB_TOKEN: 'hf_old', HF_TOKEN: 'hf_new' }), { token: 'hf_new', source: 'HF_TOKEN' });
});

test('downloads send the login token file or HUGGING_FACE_HUB_TOKEN; HF_HUB_DISABLE_IMPLICIT_TOKEN sends none', async () => {
  const endpoint = await server.start();
  server.addRepo('org/gated', { 'open_clip_config.json': { content: Buffer.from('{"model_cfg": {}}') } });
  const home = mkdtempSync(join(tmpdir(), 'openclip-hfhome-'));
  writeFileSync(join(home, 'token'), 'hf_login_token\n');
  const keys = ['HF_HOME', 'HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_TOKEN_PATH', 'HF_HUB_DISABLE_IMPLICIT_TOKEN', 'HF_ENDPOINT'];
  const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
  try {
    for (const k of keys) delete process.env[k];
    process.env.HF_HOME = home;
    process.env.HF_ENDPOINT = endpoint;
    await hfHubDownload('org/gated', 'open_clip_config.json', { cacheDir: mkdtempSync(join(tmpdir(), 'openclip-hub-')) });
    assert.equal(server.requests.at(-1)!.authorization, 'Bearer hf_login_token');
    process.env.HUGGING_FACE_HUB_TOKEN = 'hf_env_token';
    await hfHubDownload('org/gated', 'open_clip_config.json', { cacheDir: mkdtempSync(join(tmpdir(), 'openclip-hub-')) });
    assert.equal(server.requests.at(-1)!.authorization, 'Bearer hf_env_token');
    process.env.HF_HUB_DISABLE_IMPLICIT_TOKEN = '1';
    await hfHubDownload('org/gated', 'open_clip_config.json', { cacheDir: mkdtempSync(join(tmpdir(), 'openclip-hub-')) });
    assert.equal(server.requests.at(-1)!.authorization, undefined);
  } finally {
    for (const k of keys) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
});
