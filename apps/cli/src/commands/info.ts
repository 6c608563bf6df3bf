import { BaseCommand } from '../base-command.js';
import { webgpuStatus, type EngineInfo, type WebGpuStatus } from '@openclip/engine';

/** The engine's own description of itself, plus the WebGPU probe. */
export interface InfoResult extends EngineInfo {
  /** The WebGPU adapter Dawn offered (vendor, architecture, fallback/software, limits, features) and why webgpu was or was not chosen; null when not probed. */
  webgpu: WebGpuStatus | null;
}

export default class Info extends BaseCommand<InfoResult> {
  static override summary = 'Show the TensorFlow.js backend chosen and the ones available, the WebGPU adapter, threads and platform';
  static override examples = ['<%= config.bin %> info', '<%= config.bin %> info --json', 'OPENCLIP_BACKEND=cpu <%= config.bin %> info', 'OPENCLIP_ACCEL=none <%= config.bin %> info', '<%= config.bin %> info --backend webgpu'];

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
      webgpu: webgpuStatus(),
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
    const w = r.webgpu;
    if (!w) return;
    this.log(`webgpu       ${r.backend === 'webgpu' ? 'chosen' : 'not chosen'}: ${w.reason}`);
    const a = w.adapter;
    if (!a) return;
    this.log(`  adapter    ${a.description || a.device || '(no description)'}`);
    this.log(`  vendor     ${a.vendor || '?'}, architecture ${a.architecture || '?'}, device ${a.device || '?'}`);
    this.log(`  kind       ${a.software ? 'software (CPU implementation)' : 'hardware'}, fallback adapter: ${a.fallback ? 'yes' : 'no'}, feature level ${a.featureLevel}${a.dawnOptions.length ? `, Dawn options ${a.dawnOptions.join(' ')}` : ''}`);
    this.log(`  limits     ${Object.entries(a.limits).map(([k, v]) => `${k}=${v}`).join(', ')}`);
    this.log(`  features   ${a.features.join(', ') || '(none)'}`);
  }
}
