import { BaseCommand } from '../base-command.js';
import type { AccelInfo, BackendStatus } from '@openclip/engine';

export interface InfoResult {
  backend: string;
  selectedBy: string;
  backends: BackendStatus[];
  /** Acceleration tier on the chosen backend ('openblas' native addon, 'js', or 'none'). */
  accel: AccelInfo;
  tfjsVersion: string;
  threads: number;
  platform: string;
  arch: string;
  node: string;
}

export default class Info extends BaseCommand<InfoResult> {
  static override summary = 'Show the TensorFlow.js backend chosen and the ones available, threads and platform';
  static override examples = ['<%= config.bin %> info', '<%= config.bin %> info --json', 'OPENCLIP_BACKEND=cpu <%= config.bin %> info', 'OPENCLIP_ACCEL=none <%= config.bin %> info'];

  async run(): Promise<InfoResult> {
    const { flags } = await this.parse(Info);
    const e = await this.startEngine(flags.backend, { probeAll: true, quiet: true });
    return this.finish({
      backend: e.backend,
      selectedBy: e.selectedBy,
      backends: e.backends,
      accel: e.accel,
      tfjsVersion: e.tfjsVersion,
      threads: e.threads,
      platform: e.platform,
      arch: e.arch,
      node: e.node,
    });
  }

  protected render(r: InfoResult): void {
    this.log(`backend      ${r.backend} (selected by ${r.selectedBy})`);
    this.log(`accel        ${r.accel.tier}: ${r.accel.detail}`);
    if (r.accel.openblasCoretype) this.log(`openblas core ${r.accel.openblasCoretype}`);
    this.log(`tensorflow.js ${r.tfjsVersion}`);
    this.log(`threads      ${r.threads}`);
    this.log(`platform     ${r.platform}-${r.arch}, node ${r.node}`);
    this.log('backends:');
    for (const b of r.backends) this.log(`  ${b.available ? '✓' : '✗'} ${b.name.padEnd(12)} ${b.detail}`);
  }
}
