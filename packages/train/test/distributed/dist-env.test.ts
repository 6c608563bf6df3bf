import { test } from 'node:test';
import assert from 'node:assert/strict';
import { transportOptionsFromEnv } from '../../src/distributed/dist-env.js';
import { discoverWorld } from '../../src/distributed/world.js';

const world = discoverWorld({ RANK: '1', WORLD_SIZE: '2', MASTER_ADDR: '10.0.0.5', MASTER_PORT: '4000' });

test('the transport reads its secret, timeout (default 1800 s, as torch.distributed) and bind address from the environment', () => {
  const d = transportOptionsFromEnv(world, {});
  assert.equal(d.timeoutMs, 1_800_000);
  assert.equal(d.opTimeoutMs, 1_800_000);
  assert.equal(d.secret, '');
  assert.equal(d.bindAddr, undefined);
  const o = transportOptionsFromEnv(world, { OPENCLIP_DIST_SECRET: 's3', OPENCLIP_DIST_TIMEOUT_S: '90', OPENCLIP_DIST_BIND_ADDR: '10.0.0.7' });
  assert.deepEqual([o.secret, o.timeoutMs, o.opTimeoutMs, o.bindAddr, o.masterAddr, o.masterPort, o.rank], ['s3', 90_000, 90_000, '10.0.0.7', '10.0.0.5', 4000, 1]);
});

test('a timeout that is not a positive number is refused at start, naming the variable', () => {
  for (const v of ['0', '-3', 'soon']) assert.throws(() => transportOptionsFromEnv(world, { OPENCLIP_DIST_TIMEOUT_S: v }), /OPENCLIP_DIST_TIMEOUT_S='.*' is not a positive number of seconds/);
});
