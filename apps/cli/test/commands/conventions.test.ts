import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../../bin/run.js', import.meta.url));
function openclip(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
  // oclif colours its messages where it detects colour support (CI=true counts): match the plain text
  const plain = (s: string) => s.replace(/\x1B\[[0-9;]*m/g, '');
  return { ...r, stdout: plain(r.stdout), stderr: plain(r.stderr).replace(/\s*\n\s*›\s*/g, ' ') };
}

test('-h, help <command> and <command> -h print the help', () => {
  for (const args of [['-h'], ['--help']]) {
    const r = openclip(args);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /USAGE\s+\$ openclip \[COMMAND\]/);
    assert.match(r.stdout, /push-to-hub/);
  }
  for (const args of [['train', '-h'], ['help', 'train']]) {
    const r = openclip(args);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\$ openclip train/);
    assert.match(r.stdout, /--precision/);
  }
});

test('-v and version print the version', () => {
  for (const args of [['-v'], ['version'], ['--version']]) {
    const r = openclip(args);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /@openclip\/cli\/\d+\.\d+\.\d+ \S+ node-v\d+/);
  }
});

test('push-hub is push-to-hub; a mistyped command suggests the closest', () => {
  const r = openclip(['push-hub', '--help']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\$ openclip push-hub --model/);
  const t = openclip(['trian']);
  assert.equal(t.status, 127);
  assert.match(t.stderr, /Did you mean train\?/);
  assert.match(t.stderr, /trian is not a openclip command/);
});

test('shell completion scripts are generated', () => {
  const r = openclip(['autocomplete', 'script', 'bash']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /openclip/);
});

test('a flag given twice takes its last value, as argparse does', () => {
  // the last --epochs is invalid: the refusal proves which occurrence was read
  const r = openclip(['train', '--epochs', '3', '--epochs', '0', '--dataset-type', 'synthetic', '--train-num-samples', '64', '--logs', 'none']);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--epochs must be at least 1, got 0/);
  assert.doesNotMatch(r.stderr, /can only be specified once/);
});
