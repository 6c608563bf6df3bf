import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lastFlagWins, type FlagShape } from '../src/last-wins.js';

const flags: Record<string, FlagShape> = {
  epochs: { type: 'option' },
  'aug-cfg': { type: 'option', multiple: true },
  'image-mean': { type: 'option', multiple: true },
  debug: { type: 'boolean' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean', allowNo: true },
  name: { type: 'option', char: 'n' },
};

test('a repeated single-value flag keeps its last occurrence, in every spelling', () => {
  assert.deepEqual(lastFlagWins(['--epochs', '3', '--debug', '--epochs', '1'], flags), ['--debug', '--epochs', '1']);
  assert.deepEqual(lastFlagWins(['--epochs=3', '--epochs', '1'], flags), ['--epochs', '1']);
  assert.deepEqual(lastFlagWins(['--epochs', '3', '--epochs=1'], flags), ['--epochs=1']);
  assert.deepEqual(lastFlagWins(['-n', 'a', '--name', 'b', '-nc'], flags), ['-nc']);
});

test('list flags are replaced as a whole, as argparse nargs flags are', () => {
  assert.deepEqual(
    lastFlagWins(['--image-mean', '0.1', '-0.2', '0.3', '--epochs', '2', '--image-mean', '0.5', '0.5', '0.5'], flags),
    ['--epochs', '2', '--image-mean', '0.5', '0.5', '0.5'],
  );
  assert.deepEqual(lastFlagWins(['--aug-cfg', 'scale=(0.4,1.0)', 'color_jitter=0.4', '--aug-cfg', 're_prob=0.1'], flags), ['--aug-cfg', 're_prob=0.1']);
});

test('unknown tokens, single flags, booleans and everything after -- stay where they are', () => {
  assert.deepEqual(lastFlagWins(['--unknown', 'x', '--epochs', '3'], flags), ['--unknown', 'x', '--epochs', '3']);
  assert.deepEqual(lastFlagWins(['--verbose', '--no-verbose'], flags), ['--no-verbose']);
  assert.deepEqual(lastFlagWins(['--epochs', '3', '--', '--epochs', '1'], flags), ['--epochs', '3', '--', '--epochs', '1']);
  // a value that is a flag is not consumed: oclif still reports the missing value
  assert.deepEqual(lastFlagWins(['--name', '--epochs', '2', '--epochs', '3'], flags), ['--name', '--epochs', '3']);
});
