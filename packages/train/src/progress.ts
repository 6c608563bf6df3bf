/**
 * The one progress-bar style of every openclip command (cli-progress on stderr, only on a
 * terminal): `label |bar| value/total unit | rate/s | eta 1m02s[ | extra]`, fitted to 80 columns
 * (or the terminal's width when narrower) by shrinking the bar, never the numbers. The rate is
 * whatever the caller measures (training passes the samples/s of its log line, so the two agree);
 * without one it is value / elapsed time. Downloads count bytes and show MB.
 */
import cliProgress from 'cli-progress';

export interface ProgressLine {
  label: string;
  value: number;
  total: number;
  unit: string;
  /** Units per second ('-' before the first measurement). */
  rate: number | null;
  /** What the rate counts when it differs from `unit` (training: steps done, samples/s). */
  rateUnit?: string;
  /** Seconds left (null: unknown). */
  etaSeconds: number | null;
  /** Extra text after the ETA (e.g. the loss), kept short. */
  extra?: string;
  /** Show value/total in MB (downloads). */
  bytes?: boolean;
}

export const PROGRESS_COLUMNS = 80;
const MIN_BAR = 8;

/** `toPrecision(6)` as Python's `{:#g}` prints samples/s in OpenCLIP's log lines. */
export function formatRate(rate: number | null): string {
  return rate === null || !Number.isFinite(rate) ? '-' : rate.toPrecision(6);
}

function formatEta(t: number | null): string {
  if (t === null || !Number.isFinite(t) || t < 0) return '--';
  const s = Math.round(t);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

function amount(x: number, bytes: boolean | undefined): string {
  return bytes ? (x / 1e6).toFixed(1) : String(x);
}

/** One rendered line, at most `columns` wide (the label is cut before the numbers are). */
export function renderProgressLine(p: ProgressLine, columns = PROGRESS_COLUMNS): string {
  const unit = p.bytes ? 'MB' : p.unit;
  const count = `${amount(p.value, p.bytes)}/${amount(p.total, p.bytes)} ${unit}`;
  const rate = `${p.bytes && p.rate !== null ? formatRate(p.rate / 1e6) : formatRate(p.rate)} ${p.rateUnit ?? unit}/s`;
  let tail = ` ${count} | ${rate} | eta ${formatEta(p.etaSeconds)}${p.extra ? ` | ${p.extra}` : ''}`;
  if (p.extra && tail.length + 3 + MIN_BAR > columns) tail = tail.slice(0, tail.length - p.extra.length - 3); // the extra goes first
  let label = p.label;
  let barWidth = columns - label.length - tail.length - 3; // ' |' + '|'
  if (barWidth < MIN_BAR) {
    label = label.slice(0, Math.max(0, label.length - (MIN_BAR - barWidth)));
    barWidth = Math.max(MIN_BAR, columns - label.length - tail.length - 3);
  }
  const frac = p.total > 0 ? Math.min(1, Math.max(0, p.value / p.total)) : 0;
  const full = Math.round(frac * barWidth);
  return `${label} |${'█'.repeat(full)}${'░'.repeat(barWidth - full)}|${tail}`;
}

export interface ProgressBarOptions {
  /** Draw at all (default: stderr is a TTY). */
  enabled?: boolean;
  stream?: NodeJS.WritableStream;
  /** Width to fit (default: min(80, the terminal's columns)). */
  columns?: number;
  bytes?: boolean;
  /** See ProgressLine.rateUnit. */
  rateUnit?: string;
}

/** A progress bar in the project's style; a no-op when disabled (not a terminal, --json). */
export class ProgressBar {
  private readonly bar: cliProgress.SingleBar | null;
  private readonly started = performance.now();
  private value = 0;
  private rate: number | null = null;
  private extra = '';

  constructor(
    readonly label: string,
    private total: number,
    readonly unit: string,
    options: ProgressBarOptions = {},
  ) {
    const stream = options.stream ?? process.stderr;
    const enabled = options.enabled ?? Boolean((stream as NodeJS.WriteStream).isTTY);
    const columns = options.columns ?? Math.min(PROGRESS_COLUMNS, (stream as NodeJS.WriteStream).columns || PROGRESS_COLUMNS);
    const bytes = options.bytes;
    const rateUnit = options.rateUnit;
    this.bar = enabled
      ? new cliProgress.SingleBar({
          stream,
          hideCursor: true,
          clearOnComplete: false,
          linewrap: false,
          format: () => renderProgressLine({ label, value: this.value, total: this.total, unit, rate: this.currentRate(), rateUnit, etaSeconds: this.eta(), extra: this.extra, bytes }, columns),
        })
      : null;
    this.bar?.start(Math.max(total, 1), 0);
  }

  private currentRate(): number | null {
    if (this.rate !== null) return this.rate;
    const s = (performance.now() - this.started) / 1000;
    return this.value > 0 && s > 0 ? this.value / s : null;
  }

  private eta(): number | null {
    // from the elapsed time per unit of the bar's own count (the shown rate may count other units)
    const s = (performance.now() - this.started) / 1000;
    return this.value > 0 ? ((this.total - this.value) * s) / this.value : null;
  }

  /** Sets the position; `rate` (units/s) replaces the elapsed-time rate, `extra` the trailing text. */
  update(value: number, v: { rate?: number; extra?: string; total?: number } = {}): void {
    this.value = value;
    if (v.rate !== undefined) this.rate = v.rate;
    if (v.extra !== undefined) this.extra = v.extra;
    if (v.total !== undefined && v.total > 0) {
      this.total = v.total;
      this.bar?.setTotal(v.total);
    }
    this.bar?.update(Math.min(value, this.total));
  }

  increment(n = 1): void {
    this.update(this.value + n);
  }

  stop(): void {
    this.bar?.stop();
  }
}

/** A download bar for `onDownloadProgress` callbacks (one bar per file, bytes as MB). */
export function downloadProgress(options: ProgressBarOptions = {}): { onDownloadProgress: (p: { repoId: string; filename: string; downloaded: number; total: number }) => void; stop: () => void } {
  let bar: ProgressBar | null = null;
  let file = '';
  return {
    onDownloadProgress: (p) => {
      const name = `${p.repoId}/${p.filename}`;
      if (name !== file) {
        bar?.stop();
        file = name;
        bar = new ProgressBar(`download ${p.filename}`, p.total || 1, 'B', { ...options, bytes: true });
      }
      bar!.update(p.downloaded, { total: p.total || undefined });
    },
    stop: () => bar?.stop(),
  };
}
