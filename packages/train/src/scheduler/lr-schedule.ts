/**
 * OpenCLIP's learning-rate schedules (open_clip_train/scheduler.py): `cosine_lr`, `const_lr`
 * and `const_lr_cooldown`, each a linear warm-up `base_lr·(step+1)/warmup` followed by its
 * shape, evaluated in float64 with the same operation order so values agree to the last bits.
 */

/** The learning rate for a global optimizer step (0-based). */
export type LrSchedule = (step: number) => number;

export const LR_SCHEDULERS = ['cosine', 'const', 'const-cooldown'] as const;
export type LrSchedulerName = (typeof LR_SCHEDULERS)[number];

function checkArgs(fn: string, args: Record<string, number>): void {
  for (const [k, v] of Object.entries(args)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${fn}: ${k} must be a finite number, got ${v}`);
  }
}

function checkStep(fn: string, step: number): void {
  if (!Number.isInteger(step) || step < 0) throw new Error(`${fn}: step must be a non-negative integer, got ${step}`);
}

function warmupLr(baseLr: number, warmupLength: number, step: number): number {
  return (baseLr * (step + 1)) / warmupLength;
}

/** Warm-up, then half a cosine from base_lr down to 0 at `steps`. */
export function cosineLr(baseLr: number, warmupLength: number, steps: number): LrSchedule {
  checkArgs('cosineLr', { baseLr, warmupLength, steps });
  return (step) => {
    checkStep('cosineLr', step);
    if (step < warmupLength) return warmupLr(baseLr, warmupLength, step);
    const e = step - warmupLength;
    const es = steps - warmupLength;
    if (es === 0) throw new Error(`cosineLr: step ${step} is past a warm-up (${warmupLength}) that lasts the whole run (${steps} steps)`);
    return 0.5 * (1 + Math.cos((Math.PI * e) / es)) * baseLr;
  };
}

/** Warm-up, then base_lr. */
export function constLr(baseLr: number, warmupLength: number, steps: number): LrSchedule {
  checkArgs('constLr', { baseLr, warmupLength, steps });
  return (step) => {
    checkStep('constLr', step);
    return step < warmupLength ? warmupLr(baseLr, warmupLength, step) : baseLr;
  };
}

/**
 * Warm-up, base_lr, then over the last `cooldownSteps` a decay `(1 − e/es)^power` from base_lr
 * towards `cooldownEndLr` (linear when power is 1).
 */
export function constLrCooldown(
  baseLr: number,
  warmupLength: number,
  steps: number,
  cooldownSteps: number,
  cooldownPower = 1.0,
  cooldownEndLr = 0.0,
): LrSchedule {
  checkArgs('constLrCooldown', { baseLr, warmupLength, steps, cooldownSteps, cooldownPower, cooldownEndLr });
  return (step) => {
    checkStep('constLrCooldown', step);
    const startCooldownStep = steps - cooldownSteps;
    if (step < warmupLength) return warmupLr(baseLr, warmupLength, step);
    if (step < startCooldownStep) return baseLr;
    const e = step - startCooldownStep;
    const es = steps - startCooldownStep;
    const decay = Math.pow(1 - e / es, cooldownPower);
    return decay * (baseLr - cooldownEndLr) + cooldownEndLr;
  };
}

export interface LrSchedulerConfig {
  /** `--lr-scheduler`. */
  lrScheduler: LrSchedulerName;
  /** `--lr`. */
  lr: number;
  /** `--warmup` (steps). */
  warmup: number;
  /** Optimizer steps of the whole run: (batches per epoch // accum_freq) · epochs. */
  totalSteps: number;
  /** const-cooldown: (batches per epoch // accum_freq) · `--epochs-cooldown`. */
  cooldownSteps?: number | null;
  /** `--lr-cooldown-power` (1.0), `--lr-cooldown-end` (0.0). */
  lrCooldownPower?: number;
  lrCooldownEnd?: number;
}

/** The schedule main.py builds for `--lr-scheduler`. */
export function createLrScheduler(cfg: LrSchedulerConfig): LrSchedule {
  switch (cfg.lrScheduler) {
    case 'cosine':
      return cosineLr(cfg.lr, cfg.warmup, cfg.totalSteps);
    case 'const':
      return constLr(cfg.lr, cfg.warmup, cfg.totalSteps);
    case 'const-cooldown':
      if (cfg.cooldownSteps === undefined || cfg.cooldownSteps === null) {
        throw new Error('--lr-scheduler const-cooldown needs the number of cooldown epochs: set --epochs-cooldown');
      }
      return constLrCooldown(cfg.lr, cfg.warmup, cfg.totalSteps, cfg.cooldownSteps, cfg.lrCooldownPower ?? 1.0, cfg.lrCooldownEnd ?? 0.0);
    default:
      throw new Error(`unknown --lr-scheduler '${String(cfg.lrScheduler)}' (choose one of: ${LR_SCHEDULERS.join(', ')})`);
  }
}
