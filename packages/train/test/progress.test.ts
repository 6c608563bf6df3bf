import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { ProgressBar, renderProgressLine, formatRate, downloadProgress } from '../src/progress.js';

test('every bar fits 80 columns and keeps its count, rate and ETA', () => {
  const cases = [
    { label: 'epoch 12/32', value: 1234, total: 20000, unit: 'steps', rateUnit: 'samples', rate: 1234.56789, etaSeconds: 3725, extra: 'loss 3.1416' },
    { label: 'imagenet classifier', value: 990, total: 1000, unit: 'classes', rate: 12.5, etaSeconds: 1 },
    { label: 'imagenetv2 images', value: 9999, total: 10000, unit: 'images', rate: 101.25, etaSeconds: 0.4 },
    { label: 'download open_clip_model.safetensors', value: 151_000_000, total: 605_000_000, unit: 'B', rate: 25_000_000, etaSeconds: 18, bytes: true },
    { label: 'make-dataset webdataset', value: 0, total: 100000, unit: 'images', rate: null, etaSeconds: null },
  ];
  for (const c of cases) {
    const line = renderProgressLine(c);
    assert.ok(line.length <= 80, `${line.length}: ${line}`);
    assert.ok(line.includes(c.bytes ? `${(c.value / 1e6).toFixed(1)}/${(c.total / 1e6).toFixed(1)} MB` : `${c.value}/${c.total} ${c.unit}`), line);
    assert.ok(line.includes(`${c.bytes && c.rate ? formatRate(c.rate / 1e6) : formatRate(c.rate)} ${c.rateUnit ?? (c.bytes ? 'MB' : c.unit)}/s`), line);
    assert.match(line, /\| eta (\d+h\d\dm|\d+m\d\ds|\d+s|--)/);
    if (c.extra) assert.ok(line.endsWith(`| ${c.extra}`), line);
  }
  // a narrower terminal shrinks the bar, then drops the extra, then cuts the label, never the numbers
  const narrow = renderProgressLine({ ...cases[0], label: 'a very long label that does not fit' }, 60);
  assert.ok(narrow.length <= 60 && narrow.includes('1234/20000 steps') && narrow.includes('1234.57 samples/s') && narrow.includes('eta 1h02m'), narrow);
});

test("the training bar shows the log line's samples/s", () => {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream;
  let out = '';
  (stream as unknown as PassThrough).on('data', (d: Buffer) => (out += d.toString()));
  Object.assign(stream, { isTTY: true, columns: 120, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
  const bar = new ProgressBar('epoch 1/2', 10, 'steps', { stream, rateUnit: 'samples' });
  const sps = 64 / 0.8765;
  bar.update(3, { rate: sps, extra: 'loss 2.5000' });
  bar.stop();
  const logLine = `Batch (t): 0.877, ${formatRate(sps)}/s, ${formatRate(sps)}/s/rank`;
  const shown = /\| ([\d.]+) samples\/s/.exec(out);
  assert.ok(shown, JSON.stringify(out));
  assert.ok(logLine.includes(`${shown[1]}/s`), `${shown[1]} vs ${logLine}`);
  assert.ok(out.includes('3/10 steps'));
  // each redraw (cursor moves are no-ops on this stream) is one line of at most 80 columns
  const draws = out.replace(/\x1b(\[[0-9;?]*[A-Za-z]|[78])/g, '').replace(/\n/g, '').split('epoch 1/2 |').filter(Boolean);
  assert.ok(draws.length >= 1);
  for (const d of draws) assert.ok(`epoch 1/2 |${d}`.length <= 80, d);
});

test('a disabled bar writes nothing; a download bar starts one bar per file', () => {
  const stream = new PassThrough();
  let out = '';
  stream.on('data', (d: Buffer) => (out += d.toString()));
  const off = new ProgressBar('x', 5, 'steps', { stream: stream as unknown as NodeJS.WriteStream, enabled: false });
  off.update(5);
  off.stop();
  assert.equal(out, '');
  Object.assign(stream, { isTTY: true, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
  const dl = downloadProgress({ stream: stream as unknown as NodeJS.WriteStream });
  dl.onDownloadProgress({ repoId: 'org/m', filename: 'a.safetensors', downloaded: 1e6, total: 4e6 });
  dl.onDownloadProgress({ repoId: 'org/m', filename: 'b.json', downloaded: 10, total: 10 });
  dl.stop();
  assert.match(out, /download a\.safetensors \|.*\| 1\.0\/4\.0 MB/);
  assert.match(out, /download b\.json \|/);
});
