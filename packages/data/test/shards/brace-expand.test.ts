import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandBraces, expandSources, expandUrls, splitSources } from '../../src/shards/brace-expand.js';

test('numeric ranges keep zero padding like braceexpand', () => {
  const out = expandBraces('/data/cc12m-train-{0000..2175}.tar');
  assert.equal(out.length, 2176);
  assert.equal(out[0], '/data/cc12m-train-0000.tar');
  assert.equal(out[9], '/data/cc12m-train-0009.tar');
  assert.equal(out[2175], '/data/cc12m-train-2175.tar');
  for (let i = 0; i < out.length; i++) assert.equal(out[i], `/data/cc12m-train-${String(i).padStart(4, '0')}.tar`);
  assert.deepEqual(expandBraces('s{8..11}'), ['s8', 's9', 's10', 's11']);
  assert.deepEqual(expandBraces('s{3..1}'), ['s3', 's2', 's1']);
  assert.deepEqual(expandBraces('s{0..10..5}'), ['s0', 's5', 's10']);
  assert.deepEqual(expandBraces('{a..e..2}'), ['a', 'c', 'e']);
});

test('comma lists, nesting and products expand in order', () => {
  assert.deepEqual(expandBraces('{a,b}{1,2}'), ['a1', 'a2', 'b1', 'b2']);
  assert.deepEqual(expandBraces('x/{laion,cc{3m,12m}}/{00..01}.tar'), [
    'x/laion/00.tar', 'x/laion/01.tar', 'x/cc3m/00.tar', 'x/cc3m/01.tar', 'x/cc12m/00.tar', 'x/cc12m/01.tar',
  ]);
  assert.deepEqual(expandBraces('{a,,b}'), ['a', '', 'b']);
});

test('text outside braces stays literal: spaces, commas, lone or unbalanced braces, escapes', () => {
  assert.deepEqual(expandBraces('a b,c.tar'), ['a b,c.tar']);
  assert.deepEqual(expandBraces('{x}.tar'), ['{x}.tar']);
  assert.deepEqual(expandBraces('{}{1,2}'), ['{}1', '{}2']);
  assert.deepEqual(expandBraces('a{1,2'), ['a{1,2']);
  assert.deepEqual(expandBraces('\\{1,2\\}'), ['{1,2}']);
  assert.deepEqual(expandBraces('{a\\,b,c}'), ['a,b', 'c']);
});

test('`::` separates sources; each is expanded on its own', () => {
  const spec = '/a/{0..2}.tar::/b/{00..01}.tar';
  assert.deepEqual(splitSources(spec), ['/a/{0..2}.tar', '/b/{00..01}.tar']);
  const sources = expandSources(spec);
  assert.deepEqual(sources.map((s) => s.urls.length), [3, 2]);
  assert.deepEqual(expandUrls(spec), ['/a/0.tar', '/a/1.tar', '/a/2.tar', '/b/00.tar', '/b/01.tar']);
  assert.deepEqual(expandUrls('pipe:curl -s http://h/x-{0..1}.tar'), ['pipe:curl -s http://h/x-0.tar', 'pipe:curl -s http://h/x-1.tar']);
  assert.throws(() => splitSources('/a.tar::'), /source 2 of 2 is empty/);
});
