/**
 * Where each worker lane starts an epoch: its quota of batches, the stream items to skip, and when
 * resuming a saved DataPosition, the batches already delivered and whose turn is next (lanes take
 * turns round-robin, a lane out of quota is passed over, as torch's DataLoader).
 */
import { workerQuotas, type SourceDescriptor, type StreamContext } from './sample-stream.js';

/** Where a rank is in its data: enough to resume mid-epoch with the same batches. */
export interface DataPosition {
  epoch: number;
  /** Batches delivered in this epoch. */
  batch: number;
  /** Stream items each worker consumed for the delivered batches. */
  cursors: number[];
  numWorkers: number;
  worldSize: number;
  rank: number;
}

export interface EpochPlan {
  /** Batches left per lane (null: until its data ends). */
  remaining: (number | null)[];
  /** Stream items each lane has consumed. */
  cursors: number[];
  /** Batches already delivered this epoch. */
  index: number;
  /** The round-robin turn of the next batch. */
  turn: number;
}

export function planEpoch(
  epoch: number,
  resume: DataPosition | null | undefined,
  o: { source: SourceDescriptor; context: Omit<StreamContext, 'epoch' | 'worker'>; numWorkerBatches: number | null; isTrain: boolean },
): EpochPlan {
  if (!Number.isInteger(epoch) || epoch < 0) throw new Error(`epoch must be a non-negative integer, got ${epoch}`);
  const ctx = o.context;
  const remaining = workerQuotas(o.source, { ...ctx, epoch }, o.numWorkerBatches);
  const W = ctx.numWorkers;
  const cursors = new Array(W).fill(0);
  let index = 0;
  let turn = 0;
  if (resume) {
    if (!o.isTrain) throw new Error('resuming a position is only supported for training data');
    if (resume.epoch !== epoch) throw new Error(`data position is for epoch ${resume.epoch}, not ${epoch}`);
    if (resume.numWorkers !== W || resume.worldSize !== ctx.worldSize || resume.rank !== ctx.rank) {
      throw new Error(
        `data position was saved with ${resume.numWorkers} workers, world size ${resume.worldSize}, rank ${resume.rank}; ` +
          `resume with the same --workers and ranks (now ${W}, ${ctx.worldSize}, ${ctx.rank}) or restart the epoch`,
      );
    }
    for (; index < resume.batch; index++) {
      if (remaining.every((r) => r === 0)) throw new Error(`data position batch ${resume.batch} is past the end of epoch ${epoch}`);
      while (remaining[turn % W] === 0) turn++;
      const w = turn++ % W;
      remaining[w] = (remaining[w] as number) - 1;
    }
    resume.cursors.forEach((c, w) => (cursors[w] = c));
  }
  return { remaining, cursors, index, turn };
}
