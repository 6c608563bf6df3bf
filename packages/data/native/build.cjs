#!/usr/bin/env node
// Builds build/openclip_data_native.node with g++ (no node-gyp, no header download), linked to the
// system libjpeg (libjpeg-turbo; Debian/Ubuntu: libjpeg-dev) when its header and library are found,
// otherwise without JPEG decoding (the resampler and normaliser still build). Exit code 1 when
// nothing could be built: npm then drops this optional dependency and @openclip/data uses its
// TypeScript code and sharp.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const headerDirs = require('../../engine/native/header-dirs.cjs');

function compile(cxx, inc, withJpeg, out) {
  const args = ['-O3', '-std=c++17', '-fno-math-errno', '-fno-trapping-math', '-shared', '-fPIC', '-fvisibility=hidden', '-DNAPI_VERSION=8',
    '-DNODE_GYP_MODULE_NAME=openclip_data_native', '-I' + inc, ...(withJpeg ? [] : ['-DOPENCLIP_DATA_NO_JPEG']),
    path.join(__dirname, 'src', 'openclip_data_native.cc'), '-o', out, ...(withJpeg ? ['-ljpeg'] : [])];
  execFileSync(cxx, args, { stdio: withJpeg ? ['ignore', 'inherit', 'pipe'] : 'inherit' });
}

function main() {
  if (process.env.OPENCLIP_NATIVE_BUILD === '0') {
    console.error('@openclip/data-native: OPENCLIP_NATIVE_BUILD=0, not building the addon');
    process.exit(1);
  }
  const inc = headerDirs();
  if (inc.length === 0) {
    console.error('@openclip/data-native: node_api.h not found (install node-api-headers or the Node.js headers); @openclip/data will use its TypeScript code');
    process.exit(1);
  }
  const outDir = path.join(__dirname, 'build');
  fs.mkdirSync(outDir, { recursive: true });
  const tmp = path.join(outDir, 'openclip_data_native.node.tmp');
  const cxx = process.env.CXX || 'g++';
  let jpeg = process.env.OPENCLIP_DATA_NATIVE_JPEG !== '0';
  if (jpeg) {
    try {
      compile(cxx, inc[0], true, tmp);
    } catch (e) {
      const detail = (e.stderr ? String(e.stderr) : e.message).split('\n').find((l) => /error/i.test(l)) ?? e.message.split('\n')[0];
      console.error(`@openclip/data-native: building with libjpeg failed (${detail.trim()}); building without JPEG decoding (install libjpeg-dev for it)`);
      jpeg = false;
    }
  }
  if (!jpeg) {
    try {
      compile(cxx, inc[0], false, tmp);
    } catch (e) {
      console.error(`@openclip/data-native: ${cxx} failed (${e.message.split('\n')[0]}); @openclip/data will use its TypeScript code`);
      process.exit(1);
    }
  }
  fs.renameSync(tmp, path.join(outDir, 'openclip_data_native.node'));
  console.log(`@openclip/data-native: built ${path.join(outDir, 'openclip_data_native.node')} (${jpeg ? 'with' : 'without'} libjpeg)`);
}

main();
