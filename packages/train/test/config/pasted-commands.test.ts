import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTrainConfig } from '../../src/config/train-config.js';

test('without --precision the run takes what the backend supports and says so once', () => {
  const notes: string[] = [];
  const c = parseTrainConfig({ model: 'ViT-B-32' }, { supportedPrecisions: ['fp32'], backend: 'wasm', notice: (l) => notes.push(l) });
  assert.equal(c.precision, 'fp32');
  assert.equal(notes.length, 1);
  assert.match(notes[0], /--precision not given: training in fp32 \(OpenCLIP's default amp is not available on the wasm backend\)/);
  // the default run name carries the precision really used
  assert.match(c.name, /-p_fp32$/);
});

test('a precision asked for by name is still refused when the backend lacks it', () => {
  const notes: string[] = [];
  assert.throws(() => parseTrainConfig({ precision: 'amp' }, { supportedPrecisions: ['fp32'], backend: 'wasm', notice: (l) => notes.push(l) }), /--precision amp is not available on the wasm backend/);
  assert.equal(notes.length, 0);
  // and a backend that had amp would keep OpenCLIP's default without a notice
  assert.equal(parseTrainConfig({}, { supportedPrecisions: ['amp', 'fp32'], notice: (l) => notes.push(l) }).precision, 'amp');
  assert.equal(notes.length, 0);
});

test('--save-frequency 0 is accepted (OpenCLIP then saves only the final epoch); negative is refused', () => {
  assert.equal(parseTrainConfig({ precision: 'fp32', 'save-frequency': '0' }).saveFrequency, 0);
  assert.throws(() => parseTrainConfig({ precision: 'fp32', 'save-frequency': '-1' }), /--save-frequency must be 0 or more, got -1/);
});

test('flags that change nothing here say so instead of being accepted silently', () => {
  const notes: string[] = [];
  parseTrainConfig({ precision: 'fp32', 'ddp-static-graph': true, 'dist-backend': 'nccl', 'wandb-project-name': 'p', 'remote-sync-frequency': '60' }, { notice: (l) => notes.push(l) });
  assert.equal(notes.length, 4);
  assert.match(notes.join('\n'), /--ddp-static-graph has no effect/);
  assert.match(notes.join('\n'), /--dist-backend nccl is a PyTorch backend: ranks exchange over openclip-ts's TCP collectives/);
  assert.match(notes.join('\n'), /--wandb-project-name has no effect/);
  assert.match(notes.join('\n'), /--remote-sync-frequency has no effect without --remote-sync/);
  notes.length = 0;
  parseTrainConfig({ precision: 'fp32' }, { notice: (l) => notes.push(l) });
  assert.equal(notes.length, 0);
});
