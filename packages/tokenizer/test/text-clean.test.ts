import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '@openclip/engine/rng';
import { ftfyFixText } from '../src/ftfy-fixes.js';
import { asText, canonicalizeText, getCleanFn, whitespaceClean } from '../src/text-clean.js';
import { hasPython, pythonMap } from '../test-support/python-oracle.js';

test('whitespaceClean collapses Python whitespace (incl. \\x1c-\\x1f, NBSP, ideographic space) but not U+FEFF or U+200B', () => {
  assert.equal(whitespaceClean('  a\t\tb\n\x1cc\u00a0d\u3000e\u2029 '), 'a b c d e');
  assert.equal(whitespaceClean('a\ufeffb\u200bc'), 'a\ufeffb\u200bc');
});

test('canonicalize: underscores to spaces, ASCII punctuation removed, lower-cased', () => {
  assert.equal(canonicalizeText('Hello_World!! (A "quoted"  thing), café—ok'), 'hello world a quoted thing café—ok');
});

test('getCleanFn rejects unknown modes with the valid list', () => {
  assert.throws(() => getCleanFn('upper' as never), /invalid clean mode "upper": expected one of lower, whitespace, canonicalize/);
});

test('asText: non-strings become deterministic strings', () => {
  assert.equal(asText(null), '');
  assert.equal(asText(undefined), '');
  assert.equal(asText(42), '42');
  assert.equal(asText(Object.create(null)), '[object Object]');
});

const PIECES = ['a', 'B', 'Σ', 'ς', 'İ', 'ß', ' ', '\t', '\n', '\x1c', '\x85', '\u00a0', '\u2003', '\u3000', '\ufeff', '_', '!', '"', '&amp;', '&nbsp;', '&lt;b&gt;', '&#32;', 'é', 'É', 'ǅ', 'Ꭰ', '😀', '\u0345', 'ﬁ', 'Ω', '\u200b'];

test('clean modes match Python (whitespace_clean / lower / canonicalize_text over html.unescape x2, after ftfy fixes) on 3,000 random strings', { skip: !hasPython && 'python3 not found' }, () => {
  const rng = new Rng(99);
  const inputs: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const n = Math.floor(rng.random() * 14);
    let s = '';
    for (let j = 0; j < n; j++) s += PIECES[Math.floor(rng.random() * PIECES.length)];
    inputs.push(s);
  }
  const basic = 'html.unescape(html.unescape(s)).strip()';
  const cases: Array<[string, string]> = [
    ['whitespace', `" ".join((${basic}).split())`],
    ['lower', `" ".join((${basic}).split()).lower()`],
    [
      'canonicalize',
      `" ".join((${basic}).replace("_", " ").translate(str.maketrans("", "", string.punctuation)).lower().split()).strip()`,
    ],
  ];
  // ftfy (not installed for Python) is applied on the JS side to the oracle's input.
  const fixed = inputs.map(ftfyFixText);
  for (const [mode, expr] of cases) {
    const expected = pythonMap(expr, fixed);
    const clean = getCleanFn(mode as 'lower');
    for (let i = 0; i < inputs.length; i++) assert.equal(clean(inputs[i]), expected[i], `${mode}: ${JSON.stringify(inputs[i])}`);
  }
});
