// Folders holding node_api.h for the repo's native addons (engine and data): the
// node-api-headers package when installed, else the headers beside this Node.js binary or the
// system's. Nothing is downloaded.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

module.exports = function headerDirs() {
  const dirs = [];
  try {
    dirs.push(path.dirname(require.resolve('node-api-headers/include/node_api.h')));
  } catch { /* optional */ }
  dirs.push(path.resolve(path.dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node');
  return dirs.filter((d) => fs.existsSync(path.join(d, 'node_api.h')));
};
