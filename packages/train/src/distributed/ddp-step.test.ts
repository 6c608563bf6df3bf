// Data-parallel gradients on 2 and 4 processes over loopback equal the single-process gradients
// on the concatenated batch, for ClipLoss (local loss + gather with grad, gather with grad alone)
// and SigLipLoss; ranks started from different inits agree after the parameter broadcast.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initEngine, tf } from '@openclip/engine';
import { createLoss } from '@openclip/losses';
import { lossInput } from '../train-step.js';
import { testBatch, testModel, TRACKED } from './ddp-test-model.js';

const script = fileURLToPath(new URL('./ddp-test-rank.js', import.meta.url));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function distributed(world: number, modes: string[]): Promise<Record<string, Record<string, number[]>>[]> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ddp-'));
  await Promise.all(
    Array.from({ length: world }, (_, r) =>
      new Promise<void>((resolve, reject) => {
        const c = spawn(process.execPath, [script, String(r), String(world), String(port), modes.join(','), join(dir, `${r}.json`)], { stdio: ['ignore', 'inherit', 'inherit'] });
        const timer = setTimeout(() => c.kill(), 120_000);
        c.on('exit', (code) => {
          clearTimeout(timer);
          if (code === 0) resolve();
          else reject(new Error(`rank ${r} exited with ${code}`));
        });
      }),
    ),
  );
  return Array.from({ length: world }, (_, r) => JSON.parse(readFileSync(join(dir, `${r}.json`), 'utf8')).results);
}

async function single(siglip: boolean): Promise<Record<string, number[]>> {
  await initEngine({ backend: 'cpu' });
  const model = testModel(7);
  const loss = createLoss({ model: 'test', siglip });
  const b = testBatch();
  const vars = TRACKED.map((k) => model.params.get(k)!);
  const r = tf.variableGrads(() => tf.addN(Object.values(loss.call(lossInput(model.forward(b.images, b.tokens))))) as tf.Scalar, vars);
  const out: Record<string, number[]> = {};
  TRACKED.forEach((k, i) => (out[k] = Array.from(r.grads[vars[i].name].dataSync())));
  tf.dispose([r.value, ...Object.values(r.grads), b.images, b.tokens]);
  model.dispose();
  return out;
}

function compare(got: Record<string, number[]>, want: Record<string, number[]>, what: string) {
  for (const k of TRACKED) {
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < want[k].length; i++) {
      worst = Math.max(worst, Math.abs(got[k][i] - want[k][i]));
      scale = Math.max(scale, Math.abs(want[k][i]));
    }
    assert.ok(worst <= 1e-5 + 1e-4 * scale, `${what}: ${k} max error ${worst} (max |grad| ${scale})`);
  }
}

const MODES: Record<number, string[]> = { 2: ['local-gwg', 'gwg', 'siglip-bidir'], 4: ['local-gwg', 'siglip-bidir', 'siglip-gather', 'siglip-shift'] };
for (const world of [2, 4]) {
  test(`${world} processes (${MODES[world].join(', ')}): averaged gradients equal the single-process gradients on the whole batch`, async () => {
    const wantClip = await single(false);
    const wantSiglip = await single(true);
    const ranks = await distributed(world, MODES[world]);
    for (const mode of MODES[world]) ranks.forEach((g, r) => compare(g[mode], mode.startsWith('siglip') ? wantSiglip : wantClip, `${mode} rank ${r}`));
  });
}
