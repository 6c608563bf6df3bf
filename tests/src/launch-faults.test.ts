// openclip launch under faults: a rank killed mid-run stops the whole job (bounded), and the
// job's secret never reaches the output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openclipAsync, tempDir, tinyModelConfig, shortRun } from '../test-support/openclip-cli.js';

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

function rankOf(pid: number): number {
  const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  return Number(env.find((e) => e.startsWith('RANK='))!.slice(5));
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('a rank killed mid-run makes openclip launch stop the others and fail, without printing the secret', { skip: process.platform !== 'linux' ? 'reads /proc' : false }, async () => {
  const dir = tempDir('launchfault');
  const model = tinyModelConfig(dir);
  const secret = 'launch-fault-secret-7f3a9c';
  const child = openclipAsync(['launch', '--nproc-per-node', '2', '--', 'train', '--dataset-type', 'synthetic', '--train-num-samples', '64', '--epochs', '50', ...shortRun(model, join(dir, 'logs'), 'l')], { OPENCLIP_DIST_SECRET: secret });
  let out = '';
  let ranks: number[] = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const started = new Promise<void>((resolve) => {
    const onData = (d: Buffer) => {
      out += d;
      if (/Train Epoch: /.test(out)) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d) => (out += d));
  });
  const guard = setTimeout(() => child.kill('SIGKILL'), 240_000);
  try {
    await started;
    ranks = childrenOf(child.pid!);
    assert.equal(ranks.length, 2);
    const victim = ranks.find((p) => rankOf(p) === 1)!;
    const other = ranks.find((p) => p !== victim)!;
    process.kill(victim, 'SIGKILL');
    const code = await exited;
    assert.equal(code, 1);
    assert.match(out, /openclip launch: rank 1 exited with SIGKILL; stopping the others/);
    for (let i = 0; i < 50 && alive(other); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(!alive(other), 'rank 0 was stopped too');
    assert.ok(!out.includes(secret), 'the secret never appears in the output');
  } finally {
    clearTimeout(guard);
    for (const p of ranks) if (alive(p)) process.kill(p, 'SIGKILL');
  }
});
