#!/bin/sh
# Runs the Node-floor test with the exact Node version package.json's engines.node names, fetched
# from the npm registry (the node-<platform>-<arch> package holds the official binary).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
floor=$(node -p "require('$root/package.json').engines.node.replace(/^>=\s*/, '')")
platform=$(node -p "process.platform + '-' + process.arch")
dir=${TMPDIR:-/tmp}/openclip-node-$floor
if [ ! -x "$dir/package/bin/node" ]; then
  mkdir -p "$dir"
  (cd "$dir" && npm pack --silent "node-$platform@$floor" >/dev/null && tar xzf "node-$platform-$floor.tgz")
fi
OPENCLIP_NODE_FLOOR_BIN="$dir/package/bin/node" node --test "$root/tests/dist-test/src/node-floor.test.js"
