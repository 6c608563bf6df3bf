// Loads the compiled Open MPI addon; throws (MODULE_NOT_FOUND-like) when it was not built.
'use strict';
const path = require('node:path');
module.exports = require(path.join(__dirname, 'build', 'openclip_mpi.node'));
