import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHfHubSpec } from '../src/hub-spec.js';

test('parseHfHubSpec: optional hf-hub: prefix, revision after the first @, an empty revision is the default', () => {
  assert.deepEqual(parseHfHubSpec('hf-hub:org/name'), { repoId: 'org/name' });
  assert.deepEqual(parseHfHubSpec('org/name'), { repoId: 'org/name' });
  assert.deepEqual(parseHfHubSpec('hf-hub:org/name@v1.0'), { repoId: 'org/name', revision: 'v1.0' });
  assert.deepEqual(parseHfHubSpec('bert-base-uncased@main'), { repoId: 'bert-base-uncased', revision: 'main' });
  assert.deepEqual(parseHfHubSpec('org/name@'), { repoId: 'org/name', revision: undefined });
  assert.deepEqual(parseHfHubSpec('org/name@a@b'), { repoId: 'org/name', revision: 'a@b' });
});
