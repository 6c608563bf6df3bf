/**
 * Base of every openclip command: `run()` returns a typed result (so `--json` prints it as
 * one object) and `render()` prints it for people. Engine flags are shared here.
 */
import { Command, type Interfaces } from '@oclif/core';
import { initEngine, type EngineInfo } from '@openclip/engine';
import * as flags from './flags.js';
import { lastFlagWins, type FlagShape } from './last-wins.js';

export abstract class BaseCommand<T> extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    backend: flags.backend(),
  };

  /** Parses as argparse does for repeated flags: the last occurrence of a flag wins. */
  protected override async parse<F extends Record<string, unknown>, B extends Record<string, unknown>, A extends Record<string, unknown>>(
    options?: Interfaces.Input<F, B, A>,
    argv: string[] = this.argv,
  ): Promise<Interfaces.ParserOutput<F, B, A>> {
    const defs = { ...(options?.baseFlags ?? {}), ...(options?.flags ?? {}) } as unknown as Record<string, FlagShape>;
    if (this.ctor.enableJsonFlag) defs.json ??= { type: 'boolean' };
    return super.parse(options, lastFlagWins(argv, defs));
  }

  /** Chooses the TensorFlow.js backend ($OPENCLIP_BACKEND or --backend) and reports it on stderr. */
  protected async startEngine(backend: string | undefined, options: { probeAll?: boolean; quiet?: boolean } = {}): Promise<EngineInfo> {
    try {
      const info = await initEngine({ backend, probeAll: options.probeAll });
      if (!options.quiet && !this.jsonEnabled()) this.logToStderr(`openclip: backend ${info.backend} (TensorFlow.js ${info.tfjsVersion}, ${info.threads} threads)`);
      return info;
    } catch (e) {
      this.error((e as Error).message, { exit: 2 });
    }
  }

  /** Human-readable output of a result; not called with --json. */
  protected abstract render(result: T): void;

  protected finish(result: T): T {
    if (!this.jsonEnabled()) this.render(result);
    return result;
  }
}
