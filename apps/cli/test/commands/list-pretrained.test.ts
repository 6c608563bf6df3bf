import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listPretrained } from '@openclip/models/pretrained';

const bin = fileURLToPath(new URL('../../../bin/run.js', import.meta.url));
function openclip(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { ...r, stderr: r.stderr.replace(/\s*\n\s*›\s*/g, ' ') };
}

/** A cache holding RN50/openai's weights in the huggingface_hub layout. */
function fakeCache(): string {
  const dir = mkdtempSync(join(tmpdir(), 'openclip-lp-'));
  const repo = join(dir, 'models--timm--resnet50_clip.openai');
  const commit = 'a'.repeat(40);
  mkdirSync(join(repo, 'refs'), { recursive: true });
  writeFileSync(join(repo, 'refs', 'main'), commit);
  mkdirSync(join(repo, 'blobs'), { recursive: true });
  writeFileSync(join(repo, 'blobs', 'b'.repeat(64)), 'weights');
  mkdirSync(join(repo, 'snapshots', commit), { recursive: true });
  symlinkSync(join('..', '..', 'blobs', 'b'.repeat(64)), join(repo, 'snapshots', commit, 'open_clip_model.safetensors'));
  return dir;
}

test('list-pretrained --json lists every registry pair with hub id, runnable and cached', () => {
  const cache = fakeCache();
  try {
    const r = openclip(['list-pretrained', '--json'], { HF_HUB_CACHE: cache });
    assert.equal(r.status, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as { model: string; tag: string; hf_hub_id: string; runnable: boolean; cached: boolean }[];
    assert.deepEqual(rows.map((x) => `${x.model}:${x.tag}`), listPretrained(true));
    for (const x of rows) {
      assert.deepEqual(Object.keys(x).filter((k) => k !== 'needs').sort(), ['cached', 'hf_hub_id', 'model', 'runnable', 'tag']);
      assert.equal(x.cached, x.hf_hub_id === 'timm/resnet50_clip.openai', `${x.model}:${x.tag}`);
    }
    assert.ok(rows.find((x) => x.model === 'RN50-quickgelu' && x.tag === 'openai')!.cached, 'the alias shares the cached repo');
    assert.equal(rows.find((x) => x.model === 'ViT-SO400M-14-SigLIP')!.runnable, true, 'timm SigLIP towers run here');
    for (const m of ['ViTamin-S', 'MobileCLIP-S1', 'MobileCLIP-B']) assert.equal(rows.find((x) => x.model === m)!.runnable, true, `timm hybrid tower ${m} runs here`);
    assert.equal(rows.find((x) => x.model === 'convnext_base')!.runnable, true, 'timm ConvNeXt towers run here');
    assert.equal(rows.find((x) => x.model === 'roberta-ViT-B-32')!.runnable, false, 'HF text towers do not');
    assert.ok(rows.some((x) => x.runnable));
    // --cache-dir overrides the environment
    const viaFlag = JSON.parse(openclip(['list-pretrained', '--json', '--model', 'RN50', '--cache-dir', cache]).stdout) as { tag: string; cached: boolean }[];
    assert.deepEqual(viaFlag.map((x) => [x.tag, x.cached]), [['openai', true], ['yfcc15m', false], ['cc12m', false]]);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test('list-pretrained prints a table, filters by --model and --runnable, and suggests names for an unknown model', () => {
  const r = openclip(['list-pretrained', '--model', 'RN101']);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0], /^MODEL\s+TAG\s+HF HUB\s+RUNNABLE\s+CACHED$/);
  assert.match(lines[1], /^RN101\s+openai\s+timm\/resnet101_clip\.openai\s+(yes|no)/);
  assert.match(lines.at(-1)!, /^2 pairs, \d+ runnable here, \d+ cached in /);
  const runnable = JSON.parse(openclip(['list-pretrained', '--json', '--runnable']).stdout) as { runnable: boolean }[];
  assert.ok(runnable.length > 0 && runnable.every((x) => x.runnable));
  const bad = openclip(['list-pretrained', '--model', 'vit-b-32']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /no pretrained weights are registered for model 'vit-b-32'; did you mean: ViT-B-32\b/);
});

test('the list-pretrained command module does not load TensorFlow.js', () => {
  const mod = fileURLToPath(new URL('../../src/commands/list-pretrained.js', import.meta.url));
  const script = `import { createRequire } from 'node:module'; await import(${JSON.stringify(mod)}); const c = Object.keys(createRequire(import.meta.url).cache); console.log(JSON.stringify(c.filter((k) => k.includes('@tensorflow'))));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: fileURLToPath(new URL('.', import.meta.url)) });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim()), []);
});

test('pairs with an HF tokenizer are runnable online (fetched on first use) and, offline, only with the tokenizer cached', () => {
  const cache = mkdtempSync(join(tmpdir(), 'openclip-lp-'));
  try {
    const row = (env: Record<string, string>) =>
      (JSON.parse(openclip(['list-pretrained', '--json', '--model', 'ViT-L-14-CLIPA'], { HF_HUB_CACHE: cache, ...env }).stdout) as { runnable: boolean; needs?: string }[])[0];
    assert.equal(row({}).runnable, true);
    const offline = row({ HF_HUB_OFFLINE: '1' });
    assert.equal(offline.runnable, false);
    assert.match(offline.needs!, /HF tokenizer bert-base-uncased: not in the cache and HF_HUB_OFFLINE is set/);
    // a cached tokenizer.json makes it runnable offline
    const repo = join(cache, 'models--bert-base-uncased');
    const commit = 'c'.repeat(40);
    mkdirSync(join(repo, 'refs'), { recursive: true });
    writeFileSync(join(repo, 'refs', 'main'), commit);
    mkdirSync(join(repo, 'snapshots', commit), { recursive: true });
    writeFileSync(join(repo, 'snapshots', commit, 'tokenizer.json'), '{}');
    assert.equal(row({ HF_HUB_OFFLINE: '1' }).runnable, true);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});
