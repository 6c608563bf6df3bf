#!/usr/bin/env node
// Runs a workspace's compiled tests with node:test, printing the spec report and writing
// .test-results/summary.json for the root summary. Every workspace compiles its tests to dist-test/
// (a package's tsconfig.test.json: test/, test-support/, bench/ and the src/ they import; the
// tests workspace's own tsconfig.json, from its src/), so a package's dist/ holds only the product.
// Every dist-test/**/*.test.js runs.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

function findTests(dir, out = []) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) findTests(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const cwd = process.cwd();
const filter = process.argv.slice(2);
const out = 'dist-test';
let files = findTests(join(cwd, out)).sort();
if (filter.length) files = files.filter((f) => filter.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error(`openclip-test: no compiled tests (${out}/**/*.test.js) in ${cwd}; run the build first`);
  process.exit(1);
}
rmSync(join(cwd, '.test-results'), { recursive: true, force: true });
mkdirSync(join(cwd, '.test-results'), { recursive: true });
const reporter = fileURLToPath(new URL('./summary-reporter.mjs', import.meta.url));
const args = [
  '--enable-source-maps',
  '--test',
  '--test-reporter=spec',
  '--test-reporter-destination=stdout',
  `--test-reporter=${reporter}`,
  '--test-reporter-destination=.test-results/summary.json',
  ...files.map((f) => relative(cwd, f)),
];
// Every temporary folder the tests (and the processes they start) make goes under one folder of
// this run, removed afterwards, so nothing piles up in the system's temp dir across runs.
// OPENCLIP_KEEP_TEST_DIRS=1 keeps it (its path is printed) for a post-mortem.
const runTmp = mkdtempSync(join(tmpdir(), `openclip-test-${basename(cwd)}-`));
let r;
try {
  r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd, env: { ...process.env, TMPDIR: runTmp } });
} finally {
  if (process.env.OPENCLIP_KEEP_TEST_DIRS === '1') console.error(`openclip-test: temporary files kept in ${runTmp}`);
  else rmSync(runTmp, { recursive: true, force: true });
}
process.exit(r.status ?? 1);
