#!/usr/bin/env node
// Builds build/openclip_mpi.node, @openclip/train's Open MPI backend (`--dist-backend mpi`), with
// mpicxx (Open MPI's compiler wrapper: Debian's libopenmpi-dev) and no node-gyp or header download.
// Exit code 1 when it cannot be built, saying why: npm then drops this optional dependency and
// training uses the TCP transport.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const headerDirs = require('../../engine/native/header-dirs.cjs');

function which(cmd) {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

function main() {
  if (process.env.OPENCLIP_NATIVE_BUILD === '0' || process.env.OPENCLIP_MPI_BUILD === '0') {
    console.error('@openclip/train-mpi: OPENCLIP_NATIVE_BUILD=0 / OPENCLIP_MPI_BUILD=0, not building the Open MPI addon; --dist-backend mpi is unavailable');
    process.exit(1);
  }
  const mpicxx = process.env.MPICXX || which('mpicxx') || which('mpic++');
  if (!which('mpicc') && !mpicxx) {
    console.error('@openclip/train-mpi: mpicc not found (Debian/Ubuntu: apt-get install libopenmpi-dev openmpi-bin); --dist-backend mpi is unavailable, training uses the TCP transport');
    process.exit(1);
  }
  if (!mpicxx) {
    console.error('@openclip/train-mpi: mpicc found but no mpicxx/mpic++ (a C++ compiler for Open MPI); --dist-backend mpi is unavailable');
    process.exit(1);
  }
  const inc = headerDirs();
  if (inc.length === 0) {
    console.error('@openclip/train-mpi: node_api.h not found (install node-api-headers or the Node.js headers); --dist-backend mpi is unavailable');
    process.exit(1);
  }
  const out = path.join(__dirname, 'build');
  fs.mkdirSync(out, { recursive: true });
  const args = ['-O2', '-std=c++17', '-shared', '-fPIC', '-fvisibility=hidden', '-DNAPI_VERSION=8', '-DNODE_GYP_MODULE_NAME=openclip_mpi', '-I' + inc[0],
    path.join(__dirname, 'src', 'openclip_mpi.cc'), '-o', path.join(out, 'openclip_mpi.node.tmp'), '-ldl'];
  try {
    execFileSync(mpicxx, args, { stdio: 'inherit' });
  } catch (e) {
    console.error(`@openclip/train-mpi: ${mpicxx} failed (${e.message.split('\n')[0]}); --dist-backend mpi is unavailable`);
    process.exit(1);
  }
  fs.renameSync(path.join(out, 'openclip_mpi.node.tmp'), path.join(out, 'openclip_mpi.node'));
  console.log(`@openclip/train-mpi: built ${path.join(out, 'openclip_mpi.node')}`);
}

main();
