import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ftfyFixText } from '../src/ftfy-fixes.js';
import { SimpleTokenizer } from '../src/simple-tokenizer.js';

test('ftfy: curly quotes, ligatures, full-width forms and NFC', () => {
  assert.equal(ftfyFixText('\u201cDon\u2019t\u201d \u2018x\u2019 \u02bcy'), '"Don\'t" \'x\' \'y');
  assert.equal(ftfyFixText('\ufb01ne \ufb02ower \ufb03 \u0149'), "fine flower ffi 'n");
  assert.equal(ftfyFixText('\uff21\uff22\uff23\uff11\uff12\uff13\uff01\u3000\uff61'), 'ABC123! \u3002');
  assert.equal(ftfyFixText('cafe\u0301 n\u0303'), 'caf\u00e9 \u00f1');
});

test('ftfy: entities are unescaped until stable, but not from the first line holding "<" on', () => {
  assert.equal(ftfyFixText('&amp;amp;amp; fish'), '& fish');
  assert.equal(ftfyFixText('&EACUTE;t&eacute; &NBSP;'), '\u00c9t\u00e9 \u00a0');
  assert.equal(ftfyFixText('&ntilde; &Ntilde; &NTILDE; &nTILDE; BUNDESSTRA&SZLIG;E'), '\u00f1 \u00d1 \u00d1 &nTILDE; BUNDESSTRASSE');
  // An upper-cased name that html.unescape would read as a legacy prefix (&LT + IMES;) is not decoded by ftfy.
  assert.equal(ftfyFixText('&LTIMES; &ltimes;'), '&LTIMES; \u22c9');
  assert.equal(ftfyFixText('&#x263A; &#9731; &#xZZ; &notanentity;'), '\u263a \u2603 &#xZZ; &notanentity;');
  assert.equal(ftfyFixText('<b>&amp;amp;</b>'), '<b>&amp;amp;</b>');
  assert.equal(ftfyFixText('a &amp;amp;\n<b>\nc &amp;amp;'), 'a &\n<b>\nc &amp;amp;');
  // Entities without ';' are left to html.unescape (ftfy only decodes complete ones).
  assert.equal(ftfyFixText('&amp fish'), '&amp fish');
});

test('ftfy: C1 controls as Windows-1252, terminal escapes, control characters, lone surrogates, line breaks', () => {
  assert.equal(ftfyFixText('\x93quoted\x94 \x80 \x85'), '"quoted" \u20ac \u2026');
  assert.equal(ftfyFixText('\x1b[31mred\x1b[0m \x1b[1;4mbold'), 'red bold');
  assert.equal(ftfyFixText('a\x00b\ufeffc\u200bd\x7fe\x0bf\u206ag'), 'abc\u200bdefg');
  assert.equal(ftfyFixText('x\ud800y\udfffz'), 'x\ufffdy\ufffdz');
  assert.equal(ftfyFixText('one\r\ntwo\rthree\u2028four'), 'one\ntwo\nthree\nfour');
});

test('ftfy: plain ASCII captions pass through untouched', () => {
  const s = 'A photo of a cat, 42 dogs & "quotes" <html> \t tabs';
  assert.equal(ftfyFixText(s), s);
});

test('tokens: curly apostrophes and decomposed accents tokenize like their fixed forms (as OpenCLIP with ftfy)', () => {
  const tok = new SimpleTokenizer();
  assert.deepEqual(tok.encode('don\u2019t stop'), tok.encode("don't stop"));
  assert.deepEqual(tok.encode('cafe\u0301'), tok.encode('caf\u00e9'));
  assert.deepEqual(tok.encode('\ufb01sh &amp;amp;amp; chips'), tok.encode('fish & chips'));
});
