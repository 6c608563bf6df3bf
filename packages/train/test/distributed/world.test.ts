import { test } from 'node:test';
import assert from 'node:assert/strict';
import { discoverWorld, expandSlurmHostlist } from '../../src/distributed/world.js';

test('no launcher: a world of one', () => {
  assert.deepEqual(discoverWorld({}), { rank: 0, worldSize: 1, localRank: 0, masterAddr: '127.0.0.1', masterPort: 29500, launcher: 'single' });
});

test('torchrun variables', () => {
  const w = discoverWorld({ RANK: '3', WORLD_SIZE: '8', LOCAL_RANK: '1', MASTER_ADDR: 'n0', MASTER_PORT: '1234' });
  assert.deepEqual(w, { rank: 3, worldSize: 8, localRank: 1, masterAddr: 'n0', masterPort: 1234, launcher: 'torchrun' });
});

test('SLURM variables, with the first host of the node list as master', () => {
  const w = discoverWorld({ SLURM_PROCID: '5', SLURM_NTASKS: '16', SLURM_LOCALID: '1', SLURM_JOB_NODELIST: 'gpu[007-009,012],login2' });
  assert.equal(w.masterAddr, 'gpu007');
  assert.deepEqual([w.rank, w.worldSize, w.localRank, w.launcher], [5, 16, 1, 'slurm']);
  assert.deepEqual(expandSlurmHostlist('gpu[007-009,012],login2'), ['gpu007', 'gpu008', 'gpu009', 'gpu012', 'login2']);
  assert.deepEqual(expandSlurmHostlist('a[1-2]-ib[0-1]'), ['a1-ib0', 'a1-ib1', 'a2-ib0', 'a2-ib1']);
});

test('Open MPI and Kubernetes Indexed Jobs', () => {
  const m = discoverWorld({ OMPI_COMM_WORLD_RANK: '2', OMPI_COMM_WORLD_SIZE: '4', OMPI_COMM_WORLD_LOCAL_RANK: '0', MASTER_ADDR: 'h0' });
  assert.deepEqual([m.rank, m.worldSize, m.launcher, m.masterAddr], [2, 4, 'mpi', 'h0']);
  // without MASTER_ADDR the world is still read (the mpi backend needs no rendezvous); TCP asks for it
  assert.equal(discoverWorld({ OMPI_COMM_WORLD_RANK: '2', OMPI_COMM_WORLD_SIZE: '4' }).masterAddr, '');
  const k = discoverWorld({ JOB_COMPLETION_INDEX: '1', WORLD_SIZE: '2', MASTER_ADDR: 'job-0.svc' });
  assert.deepEqual([k.rank, k.worldSize, k.launcher], [1, 2, 'kubernetes']);
  assert.throws(() => discoverWorld({ JOB_COMPLETION_INDEX: '1' }), /set WORLD_SIZE/);
});

test('--dist-url overrides the master; bad values are clear errors', () => {
  const w = discoverWorld({ RANK: '0', WORLD_SIZE: '2' }, 'tcp://10.1.2.3:23456');
  assert.deepEqual([w.masterAddr, w.masterPort], ['10.1.2.3', 23456]);
  assert.equal(discoverWorld({}, 'env://').masterAddr, '127.0.0.1');
  assert.throws(() => discoverWorld({}, 'nccl://x'), /expected env:\/\/ or tcp:\/\/host:port/);
  assert.throws(() => discoverWorld({ RANK: '2', WORLD_SIZE: '2' }), /rank 2 is outside the world of size 2/);
  assert.throws(() => discoverWorld({ RANK: 'x', WORLD_SIZE: '2' }), /RANK='x' is not a non-negative integer/);
});
