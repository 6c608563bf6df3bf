import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '@openclip/engine/rng';
import { htmlUnescape } from '../src/html-unescape.js';
import { hasPython, pythonMap } from '../test-support/python-oracle.js';

test('htmlUnescape: named, legacy, numeric and malformed references', () => {
  assert.equal(htmlUnescape('fish &amp; chips'), 'fish & chips');
  assert.equal(htmlUnescape('&amp;amp;'), '&amp;');
  assert.equal(htmlUnescape('caf&eacute; &copy &#x263A; &#9731;'), 'café © ☺ ☃');
  assert.equal(htmlUnescape('&notin; &notit; &noti;'), '∉ ¬it; ¬i;');
  assert.equal(htmlUnescape('&#0; &#13; &#128; &#x81; &#xD800; &#1114112; &#1;'), '\ufffd \r € \x81 \ufffd \ufffd ');
  assert.equal(htmlUnescape('&unknown; & &; &#; &#x;'), '&unknown; & &; &#; &#x;');
  assert.equal(htmlUnescape('&NewLine;&Tab;&nbsp'), '\n\t\u00a0');
  assert.equal(htmlUnescape('&constructor; &__proto__;'), '&constructor; &__proto__;');
});

const ALPHABET = ['&', '#', 'x', 'X', ';', 'a', 'm', 'p', 'l', 't', 'g', 'n', 'o', 'i', 's', '1', '2', '3', '9', 'f', 'F', 'D', ' ', '<', '\t', 'é', '😀', 'amp', 'lt;', 'nbsp', 'notin', 'eacute', '#x1F600;', '#128', '#0'];

test('htmlUnescape matches Python html.unescape on 3,000 random reference-heavy strings', { skip: !hasPython && 'python3 not found' }, () => {
  const rng = new Rng(1234);
  const inputs: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const n = 1 + Math.floor(rng.random() * 12);
    let s = '';
    for (let j = 0; j < n; j++) s += ALPHABET[Math.floor(rng.random() * ALPHABET.length)];
    inputs.push(s);
  }
  const expected = pythonMap('html.unescape(s)', inputs);
  for (let i = 0; i < inputs.length; i++) assert.equal(htmlUnescape(inputs[i]), expected[i], JSON.stringify(inputs[i]));
});
