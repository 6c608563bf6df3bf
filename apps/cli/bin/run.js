#!/usr/bin/env node
import { execute } from '@oclif/core';

await execute({ dir: import.meta.url });
// A finished command ends the process: native thread pools (OpenBLAS, the wasm backend) or a
// closed rank's sockets must not keep a finished training job alive. stdout/stderr writes to
// files and pipes are synchronous on POSIX, so nothing printed is lost.
process.exit(process.exitCode ?? 0);
