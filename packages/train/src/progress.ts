/** The per-epoch progress bar (cli-progress) on a terminal; nothing when not a TTY (log lines are printed instead). */
import cliProgress from 'cli-progress';

export class Progress {
  private readonly bar: cliProgress.SingleBar | null;

  constructor(enabled: boolean, label: string, total: number) {
    this.bar = enabled
      ? new cliProgress.SingleBar(
          { format: `${label} |{bar}| {value}/{total} steps | loss {loss} | lr {lr} | scale {scale} | {sps} samples/s | eta {eta_formatted}`, hideCursor: true, stream: process.stderr, clearOnComplete: false },
          cliProgress.Presets.shades_classic,
        )
      : null;
    this.bar?.start(total, 0, { loss: '-', lr: '-', scale: '-', sps: '-' });
  }

  update(value: number, v: { loss: number; lr: number; scale: number; sps: number }): void {
    this.bar?.update(value, { loss: v.loss.toFixed(4), lr: v.lr.toExponential(2), scale: v.scale.toFixed(2), sps: v.sps.toFixed(1) });
  }

  stop(): void {
    this.bar?.stop();
  }
}
