// Choosing the collective backend from --dist-backend and the launcher's environment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseBackend, connectWorld, launchedByOpenMpi } from '../../src/distributed/backend.js';
import { mpiAvailability } from '../../src/distributed/mpi-transport.js';
import { discoverWorld } from '../../src/distributed/world.js';

const ompi = { OMPI_COMM_WORLD_RANK: '0', OMPI_COMM_WORLD_SIZE: '2' };

test('launchers: mpirun and srun --mpi=pmix count as Open MPI, torchrun and plain srun do not', () => {
  assert.equal(launchedByOpenMpi(ompi), true);
  assert.equal(launchedByOpenMpi({ SLURM_PROCID: '1', SLURM_NTASKS: '2', PMIX_RANK: '1' }), true);
  assert.equal(launchedByOpenMpi({ SLURM_PROCID: '1', SLURM_NTASKS: '2' }), false);
  assert.equal(launchedByOpenMpi({ RANK: '0', WORLD_SIZE: '2' }), false);
});

test('--dist-backend: tcp by default and for OpenCLIP\'s nccl / gloo; unknown names and mpi outside mpirun are clear errors', () => {
  assert.equal(chooseBackend(null, { RANK: '0', WORLD_SIZE: '2' }), 'tcp');
  assert.equal(chooseBackend('tcp', ompi), 'tcp');
  for (const f of ['nccl', 'gloo']) assert.equal(chooseBackend(f, {}), 'tcp');
  assert.throws(() => chooseBackend('ucx', {}), /--dist-backend 'ucx': expected tcp or mpi/);
  assert.throws(() => chooseBackend('mpi', { RANK: '0', WORLD_SIZE: '2' }), /--dist-backend mpi: (this process was not started by mpirun|the Open MPI addon)/);
});

test('under mpirun the backend is mpi when the addon is built, else tcp with a notice saying why', () => {
  const notes: string[] = [];
  const got = chooseBackend(null, ompi, (l) => notes.push(l));
  const a = mpiAvailability();
  if (a.ok) {
    assert.equal(got, 'mpi');
    assert.deepEqual(notes, []);
  } else {
    assert.equal(got, 'tcp');
    assert.match(notes.join('\n'), /launched by Open MPI but the mpi backend is unavailable/);
  }
});

test('an Open MPI launch on the TCP backend without MASTER_ADDR says what to set', async () => {
  const world = discoverWorld(ompi);
  await assert.rejects(connectWorld('tcp', world, { rank: 0, worldSize: 2, masterAddr: '', masterPort: 1 }), /Open MPI launch with the TCP backend: set MASTER_ADDR/);
});
