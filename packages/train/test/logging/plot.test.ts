import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderSvg, ticks, writePlot } from '../../src/logging/plot.js';

test('ticks are round and cover the range', () => {
  assert.deepEqual(ticks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(ticks(3.7, 4.1, 4), [3.7, 3.8, 3.9, 4, 4.1]);
  assert.deepEqual(ticks(5, 5), [5]);
});

test('the SVG has one polyline per series with scaled points and a legend', () => {
  const svg = renderSvg([{ title: 'loss', xLabel: 'step', series: [{ name: 'train <loss>', points: [[0, 4], [10, 2], [20, 1]] }] }, { title: 'zero-shot', xLabel: 'epoch', series: [] }]);
  const lines = svg.match(/<polyline [^>]*points="([^"]+)"/g)!;
  assert.equal(lines.length, 1);
  const pts = /points="([^"]+)"/.exec(lines[0])![1].split(' ').map((p) => p.split(',').map(Number));
  assert.equal(pts.length, 3);
  assert.ok(pts[0][0] < pts[1][0] && pts[1][0] < pts[2][0], 'x increases');
  assert.ok(pts[0][1] < pts[1][1] && pts[1][1] < pts[2][1], 'falling loss goes down the page');
  assert.match(svg, /train &lt;loss&gt;/);
  assert.match(svg, /no data yet/);
});

test('writePlot writes an HTML page and a PNG', async () => {
  const base = join(mkdtempSync(join(tmpdir(), 'plot-')), 'curves');
  const files = await writePlot(base, 'run', [{ title: 'loss', xLabel: 'step', series: [{ name: 'loss', points: [[0, 1], [1, 0.5]] }] }]);
  assert.match(readFileSync(`${base}.html`, 'utf8'), /<svg /);
  assert.ok(files.includes(`${base}.png`) && existsSync(`${base}.png`), 'png rendered by sharp');
  assert.deepEqual([...readFileSync(`${base}.png`).subarray(1, 4)].map((c) => String.fromCharCode(c)).join(''), 'PNG');
});
