/**
 * `--resume latest` with broken files around: picks the newest pair that reads back, says which
 * newer pairs were skipped and why, and refuses (naming every pair and its fault) when pairs
 * exist but none is usable, so a run never trains over checkpoints it could not read. Starting
 * over then takes `--resume-start-over`, which moves the broken pairs aside instead of
 * overwriting them. Also removes the temporary files (`.<name>.tmp-<pid>-<hex>`) that a killed
 * save left behind, when their process is gone.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { atomicTemporaryOwner } from '@openclip/common';
import { CheckpointError, readCheckpointMeta } from './checkpoint.js';

const PAIR_FILE = /^(epoch_(?:\d+|latest))(\.state)?\.safetensors$/;

export interface PairStatus {
  tag: string;
  path: string;
  /** null when the pair reads back. */
  fault: string | null;
  epoch: number;
  step: number;
}

/** Every checkpoint pair in `dir` (a tag with either file present), usable or not. */
export function surveyCheckpoints(dir: string): PairStatus[] {
  if (!existsSync(dir)) return [];
  const tags = new Set<string>();
  for (const f of readdirSync(dir)) {
    const m = PAIR_FILE.exec(f);
    if (m) tags.add(m[1]);
  }
  const out: PairStatus[] = [];
  for (const tag of tags) {
    const path = join(dir, `${tag}.safetensors`);
    try {
      const meta = readCheckpointMeta(path);
      out.push({ tag, path, fault: null, epoch: meta.epoch, step: meta.step });
    } catch (e) {
      out.push({ tag, path, fault: (e as Error).message, epoch: -1, step: -1 });
    }
  }
  return out;
}

export interface ResumeChoice {
  /** The pair to resume from, or null to start from scratch. */
  path: string | null;
  /** One line per decision worth logging (skipped pairs, moved pairs). */
  notes: string[];
}

/**
 * The resume point for `--resume latest`. With no pair at all: start from scratch (as OpenCLIP).
 * With usable pairs: the newest (by step, then epoch, `epoch_latest` on ties), noting each broken
 * pair that was passed over. With only broken pairs: a CheckpointError naming each, unless
 * `startOver` — then they are moved into `broken-<time>/` beside them and the run starts afresh.
 */
export function chooseResumeLatest(dir: string, options: { startOver?: boolean; moveBroken?: boolean } = {}): ResumeChoice {
  const pairs = surveyCheckpoints(dir);
  const good = pairs.filter((p) => p.fault === null).sort((a, b) => b.step - a.step || b.epoch - a.epoch || Number(b.tag === 'epoch_latest') - Number(a.tag === 'epoch_latest'));
  const broken = pairs.filter((p) => p.fault !== null).sort((a, b) => a.tag.localeCompare(b.tag, 'en', { numeric: true }));
  const why = broken.map((p) => `  ${p.tag}: ${p.fault}`);
  if (good.length) {
    const notes = broken.length ? [`--resume latest: skipped ${broken.length} unreadable checkpoint pair(s) in ${dir}:`, ...why, `--resume latest: using ${good[0].tag} (epoch ${good[0].epoch}, step ${good[0].step})`] : [];
    return { path: good[0].path, notes };
  }
  if (!broken.length) return { path: null, notes: [`--resume latest: no checkpoint in ${dir}; starting from scratch`] };
  if (!options.startOver) {
    throw new CheckpointError(
      `--resume latest: every checkpoint pair in ${dir} is unreadable, so there is nothing to resume and nothing will be overwritten:\n${why.join('\n')}\n` +
        'Repair or restore one of them (a pair is <tag>.safetensors + <tag>.state.safetensors from the same save), resume from an explicit --resume <path>, ' +
        'or pass --resume-start-over to move them aside and train from scratch.',
    );
  }
  const notes = [`--resume latest: every checkpoint pair in ${dir} is unreadable:`, ...why];
  if (options.moveBroken !== false) {
    const aside = join(dir, `broken-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    mkdirSync(aside, { recursive: true });
    for (const p of broken) {
      for (const f of [`${p.tag}.safetensors`, `${p.tag}.state.safetensors`]) if (existsSync(join(dir, f))) renameSync(join(dir, f), join(aside, f));
    }
    notes.push(`--resume-start-over: moved them to ${aside}; starting from scratch`);
  } else notes.push('--resume-start-over: starting from scratch');
  return { path: null, notes };
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/** Removes temporary save files in `dir` whose writing process no longer exists; returns their names. */
export function removeStaleTemporaries(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const removed: string[] = [];
  for (const f of readdirSync(dir)) {
    const owner = atomicTemporaryOwner(f);
    if (owner === null || alive(owner)) continue;
    rmSync(join(dir, f), { force: true });
    removed.push(f);
  }
  return removed;
}
