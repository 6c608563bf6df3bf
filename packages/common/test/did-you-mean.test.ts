import { test } from 'node:test';
import assert from 'node:assert/strict';
import { didYouMean, editDistance, nearestNames } from '../src/did-you-mean.js';

test('editDistance is Levenshtein and case-sensitive', () => {
  assert.equal(editDistance('', ''), 0);
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('abc', ''), 3);
  assert.equal(editDistance('', 'ab'), 2);
  assert.equal(editDistance('flaw', 'lawn'), 2);
  assert.equal(editDistance('RN50', 'rn50'), 2);
});

test('nearestNames ranks case-insensitively; ties alphabetical or as given', () => {
  assert.deepEqual(nearestNames('RN5O', ['RN50', 'RN101', 'ViT-B-32'], { limit: 1 }), ['RN50']);
  assert.deepEqual(nearestNames('ab', ['ac', 'aa', 'zz']), ['aa', 'ac', 'zz']);
  assert.deepEqual(nearestNames('ab', ['ac', 'aa', 'zz'], { ties: 'given' }), ['ac', 'aa', 'zz']);
  assert.deepEqual(nearestNames('STD', ['mean', 'std'], { limit: 1, ties: 'given' }), ['std']);
  assert.deepEqual(nearestNames('x', []), []);
});

test('substringFirst puts names containing the query (or contained in it) first', () => {
  const names = ['ViT-B-32', 'ViT-B-32-quickgelu', 'ViT-L-14', 'RN50'];
  // By distance alone the long name is last (9 edits, after 8, 8 and 9 with 'RN50' first alphabetically).
  assert.deepEqual(nearestNames('quickgelu', names, { limit: 4 }), ['ViT-B-32', 'ViT-L-14', 'RN50', 'ViT-B-32-quickgelu']);
  assert.deepEqual(nearestNames('quickgelu', names, { limit: 2, substringFirst: true }), ['ViT-B-32-quickgelu', 'ViT-B-32']);
});

test('didYouMean formats the suggestions, or nothing without candidates', () => {
  assert.equal(didYouMean('ViT-B32', ['ViT-B-32', 'ViT-B-16', 'RN50'], 2), " (did you mean 'ViT-B-32', 'ViT-B-16'?)");
  assert.equal(didYouMean('x', []), '');
});
