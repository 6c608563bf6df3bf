import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixtureSkip, referenceDir, referenceManifest } from '@openclip/test-config';
import { constLr, constLrCooldown, cosineLr, createLrScheduler } from '../../src/scheduler/lr-schedule.js';

// Fixture case `lr_schedule`: open_clip_train/scheduler.py for step = 0 .. steps-1 (float64).
test('cosine_lr, const_lr and const_lr_cooldown match the OpenCLIP fixture within its tolerance', { skip: fixtureSkip('lr_schedule', ['train/lr_schedule.json']) }, () => {
  const fx = JSON.parse(readFileSync(join(referenceDir(), 'train', 'lr_schedule.json'), 'utf8'));
  const rtol: number = referenceManifest().cases.find((c: { id: string }) => c.id === 'lr_schedule').tolerance.rtol;
  const p = fx.params;
  const schedules = {
    cosine_lr: cosineLr(p.base_lr, p.warmup, p.steps),
    const_lr: constLr(p.base_lr, p.warmup, p.steps),
    const_lr_cooldown: constLrCooldown(p.base_lr, p.warmup, p.steps, p.cooldown_steps, p.cooldown_power, p.cooldown_end_lr),
  };
  for (const [name, fn] of Object.entries(schedules)) {
    const want: number[] = fx.schedules[name];
    assert.equal(want.length, p.steps, name);
    let worst = 0;
    want.forEach((w, step) => {
      const got = fn(step);
      const rel = Math.abs(got - w) / Math.abs(w);
      worst = Math.max(worst, rel);
      assert.ok(rel <= rtol, `${name}[${step}]: ${got} vs ${w} (rel ${rel})`);
    });
    console.log(`# ${name}: max relative error ${worst.toExponential(2)} over ${want.length} steps`);
  }
});

test('createLrScheduler follows --lr-scheduler and checks const-cooldown', () => {
  const cos = createLrScheduler({ lrScheduler: 'cosine', lr: 1e-3, warmup: 2, totalSteps: 10 });
  assert.equal(cos(0), 0.0005);
  assert.equal(cos(1), 0.001);
  assert.equal(cos(2), 0.001);
  assert.ok(Math.abs(cos(6) - 0.0005) < 1e-15, 'half way down the cosine');
  const cd = createLrScheduler({ lrScheduler: 'const-cooldown', lr: 1, warmup: 0, totalSteps: 4, cooldownSteps: 2, lrCooldownPower: 2, lrCooldownEnd: 0.5 });
  assert.deepEqual([0, 1, 2, 3].map(cd), [1, 1, 1, 0.5 + 0.5 * 0.25]);
  assert.throws(() => createLrScheduler({ lrScheduler: 'const-cooldown', lr: 1, warmup: 0, totalSteps: 4 }), /--epochs-cooldown/);
  assert.throws(() => createLrScheduler({ lrScheduler: 'step' as never, lr: 1, warmup: 0, totalSteps: 4 }), /unknown --lr-scheduler 'step'/);
  assert.throws(() => cosineLr(1, 3, 3)(3), /warm-up \(3\) that lasts the whole run/);
  assert.throws(() => constLr(Number.NaN, 1, 2), /baseLr must be a finite number/);
  assert.throws(() => constLr(1, 1, 2)(-1), /non-negative integer/);
});
