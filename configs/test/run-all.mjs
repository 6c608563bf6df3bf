#!/usr/bin/env node
// The README's test command: builds and tests every workspace through turbo, then
// adds up the per-workspace summaries into one closing line "N passed, M failed".
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const workspaces = [];
for (const pattern of pkg.workspaces) {
  if (pattern.endsWith('/*')) {
    const base = join(root, pattern.slice(0, -2));
    if (!existsSync(base)) continue;
    for (const name of readdirSync(base)) workspaces.push(join(base, name));
  } else workspaces.push(join(root, pattern));
}
const tested = workspaces.filter((w) => {
  const file = join(w, 'package.json');
  return existsSync(file) && JSON.parse(readFileSync(file, 'utf8')).scripts?.test;
});
for (const w of tested) rmSync(join(w, '.test-results'), { recursive: true, force: true });

const turbo = join(root, 'node_modules', '.bin', 'turbo');
const extra = process.argv.slice(2);
const r = spawnSync(turbo, ['run', 'test', '--continue', ...extra], { stdio: 'inherit', cwd: root });

let passed = 0;
let failed = 0;
let skipped = 0;
const rows = [];
for (const w of tested) {
  const name = JSON.parse(readFileSync(join(w, 'package.json'), 'utf8')).name;
  const file = join(w, '.test-results', 'summary.json');
  if (!existsSync(file)) {
    if (extra.length === 0) {
      rows.push(`${name}: no test summary (build or test run failed)`);
      failed++;
    }
    continue;
  }
  const s = JSON.parse(readFileSync(file, 'utf8').trim().split('\n').pop());
  passed += s.passed;
  failed += s.failed;
  skipped += s.skipped + s.todo;
  rows.push(`${name}: ${s.passed} passed, ${s.failed} failed${s.skipped ? `, ${s.skipped} skipped` : ''}`);
  for (const f of s.failures) rows.push(`  failed: ${f}`);
}
console.log('\n== test summary ==');
for (const row of rows) console.log(row);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || r.status !== 0 ? 1 : 0);
