/**
 * A worker's judgement of its data over an epoch: bad samples are reported once each, and the epoch
 * stops with the reasons counted when more than --max-skip-ratio of the samples read could not be
 * loaded, or a full pass loaded none.
 */
import type { SkipEvent } from './skip-stats.js';

/** `--max-skip-ratio`'s default: more than half the samples unloadable means the data is broken. */
export const DEFAULT_MAX_SKIP_RATIO = 0.5;
/** Samples read before the skip ratio is judged (unless it is 0). */
const MIN_READ_FOR_RATIO = 64;
/** Distinct bad samples remembered per epoch so one drawn again is not reported (or counted) twice. */
const MAX_REMEMBERED_SKIPS = 1 << 20;

/**
 * Skips of one worker's epoch: each bad sample is reported once (a wrapping training stream
 * may draw it again to make up a batch), and the epoch stops when the data is mostly broken.
 */
export class EpochHealth {
  read = 0;
  skipped = 0;
  passRead = 0;
  passLoaded = 0;
  private readonly seen = new Set<string>();
  private readonly reasons = new Map<string, number>();
  constructor(
    private readonly report: (e: SkipEvent) => void,
    private readonly maxRatio: number,
  ) {}

  skip(e: SkipEvent): void {
    if (e.reason !== 'shard-error') this.skipped++; // a shard error is not a sample read
    this.reasons.set(e.reason, (this.reasons.get(e.reason) ?? 0) + 1);
    const id = `${e.reason} ${e.where}`;
    if (this.seen.has(id)) return;
    if (this.seen.size < MAX_REMEMBERED_SKIPS) this.seen.add(id);
    this.report(e);
  }

  private why(): string {
    return [...this.reasons].map(([r, n]) => `${r} ${n}`).join(', ');
  }

  /** Throws when the skip ratio is over the limit. */
  check(): void {
    if (this.maxRatio >= 1 || this.skipped === 0) return;
    if (this.maxRatio > 0 && this.read < MIN_READ_FOR_RATIO) return;
    if (this.skipped > this.maxRatio * this.read) {
      throw new Error(`${this.skipped} of the ${this.read} samples read this epoch could not be loaded (${this.why()}), more than --max-skip-ratio ${this.maxRatio} allows; fix the data (the first bad samples are listed above) or raise --max-skip-ratio`);
    }
  }

  /** At the end of a full pass: throws when it yielded no loadable sample. */
  endPass(): void {
    if (this.passRead > 0 && this.passLoaded === 0) {
      throw new Error(`a full pass over this worker's share of the data (${this.passRead} samples) yielded no loadable sample (${this.why()}); check --train-data (the first bad samples are listed above)`);
    }
    this.passRead = 0;
    this.passLoaded = 0;
  }
}
