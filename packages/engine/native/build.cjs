#!/usr/bin/env node
// Builds build/openclip_native.node from src/*.cc with g++ (no node-gyp, no header download). OpenBLAS is
// not linked: the addon dlopen()s libopenblas at run time, so only g++ is needed here.
// Exit code 1 on failure: npm then drops this optional dependency and the engine falls back.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const headerDirs = require('./header-dirs.cjs');

const SOURCES = ['openclip_native.cc', 'conv.cc', 'depthwise.cc', 'batch_norm.cc', 'attention.cc', 'elementwise.cc', 'file_lock.cc'];

function main() {
  if (process.env.OPENCLIP_NATIVE_BUILD === '0') {
    console.error('@openclip/engine-native: OPENCLIP_NATIVE_BUILD=0, not building the addon');
    process.exit(1);
  }
  const inc = headerDirs();
  if (inc.length === 0) {
    console.error('@openclip/engine-native: node_api.h not found (install node-api-headers or the Node.js headers); the engine will use its JavaScript kernels');
    process.exit(1);
  }
  const out = path.join(__dirname, 'build');
  fs.mkdirSync(out, { recursive: true });
  const cxx = process.env.CXX || 'g++';
  const args = ['-O3', '-std=c++17', '-fno-math-errno', '-fno-trapping-math', '-shared', '-fPIC', '-fvisibility=hidden', '-DNAPI_VERSION=8', '-DNODE_GYP_MODULE_NAME=openclip_native', '-I' + inc[0],
    ...SOURCES.map((f) => path.join(__dirname, 'src', f)), '-o', path.join(out, 'openclip_native.node.tmp'), '-ldl', '-lpthread'];
  try {
    execFileSync(cxx, args, { stdio: 'inherit' });
  } catch (e) {
    console.error(`@openclip/engine-native: ${cxx} failed (${e.message.split('\n')[0]}); the engine will use its JavaScript kernels`);
    process.exit(1);
  }
  fs.renameSync(path.join(out, 'openclip_native.node.tmp'), path.join(out, 'openclip_native.node'));
  console.log(`@openclip/engine-native: built ${path.join(out, 'openclip_native.node')}`);
}

main();
