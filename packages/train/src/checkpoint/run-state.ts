/**
 * What a checkpoint needs beyond weights and optimizer state to continue a run exactly: each
 * rank's data position (epoch, batches delivered, per-worker stream cursors) and the state of
 * the random generators that training draws from (PatchDropout's noise). Rank 0 writes the
 * checkpoint, so every rank's state is gathered to it (as UTF-8 JSON, one byte per float, which
 * the float transport carries exactly).
 */
import type { RngState } from '@openclip/engine';
import type { DataPosition } from '@openclip/data';
import type { OpenClipModel } from '@openclip/models';
import type { ArrayTransport } from '@openclip/losses';

export interface RankState {
  position: DataPosition;
  /** RNG states by purpose (`visual`: the vision tower's PatchDropout). */
  rng: Record<string, RngState>;
}

export function captureRng(model: OpenClipModel): Record<string, RngState> {
  const r = model.randomStream;
  return r ? { visual: r.getState() } : {};
}

export function restoreRng(model: OpenClipModel, saved: Record<string, RngState> | undefined, source: string): void {
  const r = model.randomStream;
  if (!r || !saved?.visual) return;
  try {
    r.setState(saved.visual);
  } catch (e) {
    throw new Error(`${source}: rng.visual: ${(e as Error).message}`);
  }
}

/** Every rank's state, in rank order (a collective: all ranks call it at the same step). */
export async function gatherRankStates(transport: ArrayTransport | null, mine: RankState): Promise<RankState[]> {
  if (!transport || transport.worldSize === 1) return [mine];
  const bytes = Buffer.from(JSON.stringify(mine), 'utf8');
  const parts = await transport.allGather(Float32Array.from(bytes));
  return parts.map((p, r) => {
    try {
      return JSON.parse(Buffer.from(Uint8Array.from(p)).toString('utf8')) as RankState;
    } catch (e) {
      throw new Error(`rank ${r} sent an unreadable run state (${(e as Error).message})`);
    }
  });
}

/** This rank's saved state from a checkpoint's `data` / `rng` metadata, or null (epoch-boundary saves of older files). */
export function savedRankState(data: Record<string, unknown>, rank: number, worldSize: number, source: string): RankState | null {
  const states = data.ranks as RankState[] | undefined;
  if (!Array.isArray(states)) return null;
  if (states.length !== worldSize) {
    if (states.every((s) => s.position.batch === 0)) return null; // an epoch boundary: any world size may start the next epoch
    throw new Error(`${source}: saved by ${states.length} rank(s), now ${worldSize}; an exact mid-epoch resume needs the same world size (resume from an epoch checkpoint epoch_K instead)`);
  }
  return states[rank];
}
