/**
 * Skip-and-count of bad input (OpenCLIP's `log_and_continue` handler, with reasons kept apart): every
 * dropped sample or unreadable shard is counted by reason, the first few are kept by name.
 */

export type SkipReason = 'corrupt-image' | 'empty-caption' | 'missing-part' | 'unreadable-file' | 'shard-error';

export const SKIP_REASONS: readonly SkipReason[] = ['corrupt-image', 'empty-caption', 'missing-part', 'unreadable-file', 'shard-error'];

export interface SkipEvent {
  reason: SkipReason;
  /** Shard URL + key, CSV file + line, or file path. */
  where: string;
  message: string;
}

export interface SkipStats {
  /** Samples skipped (shard errors are counted apart, in `byReason['shard-error']`). */
  samples: number;
  byReason: Record<SkipReason, number>;
  /** The first few events, in arrival order. */
  first: SkipEvent[];
}

export class SkipCounter {
  private readonly counts: Record<SkipReason, number> = { 'corrupt-image': 0, 'empty-caption': 0, 'missing-part': 0, 'unreadable-file': 0, 'shard-error': 0 };
  private readonly firstEvents: SkipEvent[] = [];
  private samples = 0;
  private lastReported = 0;

  constructor(
    private readonly keepFirst = 5,
    private readonly log: (msg: string) => void = () => {},
  ) {}

  add(e: SkipEvent): void {
    this.counts[e.reason]++;
    if (e.reason !== 'shard-error') this.samples++;
    if (this.firstEvents.length < this.keepFirst) {
      this.firstEvents.push(e);
      this.log(`skipped ${e.reason === 'shard-error' ? 'shard' : 'sample'} ${e.where}: ${e.reason} (${e.message})`);
      if (this.firstEvents.length === this.keepFirst) this.log(`further skips are counted and summarised at the end of each epoch`);
    }
  }

  stats(): SkipStats {
    return { samples: this.samples, byReason: { ...this.counts }, first: this.firstEvents.slice() };
  }

  /** Logs a one-line summary when anything was skipped since the last summary. */
  summarise(prefix: string): void {
    const total = this.samples + this.counts['shard-error'];
    if (total === this.lastReported) return;
    this.lastReported = total;
    const parts = Object.entries(this.counts)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`);
    this.log(`${prefix}: skipped ${this.samples} samples so far (${parts.join(', ')})`);
  }
}
