import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../../bin/run.js', import.meta.url));
function openclip(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  // oclif wraps error lines with a ' ›   ' prefix; join them back for matching.
  return { ...r, stderr: r.stderr.replace(/\s*\n\s*›\s*/g, ' ') };
}

test('openclip info --json prints one object naming the chosen backend', () => {
  const r = openclip(['info', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.ok(['tensorflow', 'webgpu', 'native', 'wasm', 'cpu'].includes(info.backend), info.backend);
  assert.ok(info.backends.some((b: { name: string; available: boolean }) => b.name === info.backend && b.available));
  assert.equal(info.tfjsVersion, '4.22.0');
  assert.ok(['openblas', 'ort', 'js', 'none'].includes(info.accel.tier), info.accel.tier);
  assert.equal(typeof info.accel.detail, 'string');
});

test('OPENCLIP_ACCEL=none keeps the backend and reports the fallback tier', () => {
  const r = openclip(['info', '--json', '--backend', 'wasm'], { OPENCLIP_ACCEL: 'none' });
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.equal(info.backend, 'wasm');
  assert.equal(info.accel.tier, 'none');
  assert.match(info.accel.detail, /off by request/);
});

test('--backend and OPENCLIP_BACKEND choose the backend', () => {
  assert.equal(JSON.parse(openclip(['info', '--json', '--backend', 'cpu']).stdout).backend, 'cpu');
  const viaEnv = JSON.parse(openclip(['info', '--json'], { OPENCLIP_BACKEND: 'cpu' }).stdout);
  assert.equal(viaEnv.backend, 'cpu');
  assert.equal(viaEnv.selectedBy, 'OPENCLIP_BACKEND');
});

test('an unavailable or unknown backend fails with a clear message', () => {
  const bad = openclip(['info', '--backend', 'tensorflow']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /backend 'tensorflow' is not available: .*tfjs-node/);
  const unknown = openclip(['info'], { OPENCLIP_BACKEND: 'gpu' });
  assert.notEqual(unknown.status, 0);
  assert.match(unknown.stderr, /OPENCLIP_BACKEND: unknown backend 'gpu'/);
});

test('info reports the WebGPU adapter and why webgpu was or was not chosen', () => {
  const r = openclip(['info', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  const w = info.backends.find((b: { name: string }) => b.name === 'webgpu');
  assert.ok(w, 'webgpu is a candidate');
  assert.ok(info.webgpu, 'webgpu was probed');
  assert.equal(typeof info.webgpu.reason, 'string');
  if (!info.webgpu.adapter) {
    assert.equal(w.available, false);
    return; // no adapter here: the reason says why (no Dawn package, no driver)
  }
  const a = info.webgpu.adapter;
  for (const k of ['vendor', 'architecture', 'description']) assert.equal(typeof a[k], 'string', k);
  assert.equal(typeof a.fallback, 'boolean');
  assert.ok(a.limits.maxBufferSize > 0);
  assert.ok(Array.isArray(a.features));
  if (a.software) {
    assert.equal(w.available, false, 'a software adapter is not taken in auto selection');
    assert.match(w.detail, /used only when asked for by name/);
    const named = openclip(['info', '--backend', 'webgpu']);
    assert.equal(named.status, 0, named.stderr);
    assert.match(named.stdout, /backend\s+webgpu \(selected by flag\)/);
    assert.match(named.stdout, /webgpu\s+chosen: asked for by name/);
    assert.match(named.stdout, /fallback adapter: (yes|no)/);
    assert.match(named.stdout, /limits\s+maxBufferSize=\d+/);
  } else {
    assert.equal(info.backend === 'webgpu', w.available && !info.backends.find((b: { name: string; available: boolean }) => b.name === 'tensorflow').available);
  }
});

test('--help and --version work', () => {
  const help = openclip(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /info\s+Show the TensorFlow\.js backend/);
  assert.match(openclip(['--version']).stdout, /^@openclip\/cli\/\d+\.\d+\.\d+ /);
});
