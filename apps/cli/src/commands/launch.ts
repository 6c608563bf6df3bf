import { Args, Flags } from '@oclif/core';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { SECRET_ENV } from '@openclip/train';
import { BaseCommand } from '../base-command.js';

export interface LaunchResult {
  processes: number;
  exitCodes: (number | null)[];
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

export default class Launch extends BaseCommand<LaunchResult> {
  static override summary = 'Start N openclip processes on this machine as one data-parallel job (like torchrun --standalone)';
  static override description =
    'Sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT for each process, and a fresh random OPENCLIP_DIST_SECRET (kept if already set) so only these processes can join the job; prefixes their output with the rank, and stops them all when one fails.';
  static override examples = ['<%= config.bin %> launch --nproc-per-node 2 -- train --dataset-type synthetic --train-num-samples 1024 --model ViT-Tiny-8-64-demo --precision fp32'];
  static override strict = false;
  static override flags = {
    'nproc-per-node': Flags.integer({ description: 'processes to start', required: true, min: 1 }),
    'master-port': Flags.integer({ description: 'rendezvous port (default: a free port)' }),
  };
  static override args = { command: Args.string({ description: 'the openclip command and its flags, after --' }) };

  async run(): Promise<LaunchResult> {
    const sep = this.argv.indexOf('--');
    const rest = sep >= 0 ? this.argv.slice(sep + 1) : [];
    const { flags } = await this.parse(Launch, sep >= 0 ? [...this.argv.slice(0, sep), '--', ...rest] : this.argv);
    if (rest.length === 0) this.error('give the command to run after --, e.g. openclip launch --nproc-per-node 2 -- train ...', { exit: 2 });
    const n = flags['nproc-per-node'];
    const port = flags['master-port'] ?? (await freePort());
    const bin = fileURLToPath(new URL('../../bin/run.js', import.meta.url));
    const secret = process.env[SECRET_ENV] || randomBytes(32).toString('hex'); // never printed
    const children: ChildProcess[] = [];
    const codes: (number | null)[] = new Array(n).fill(null);
    let failed = false;
    await Promise.all(
      Array.from({ length: n }, (_, rank) => {
        const child = spawn(process.execPath, [bin, ...rest], {
          env: { ...process.env, RANK: String(rank), WORLD_SIZE: String(n), LOCAL_RANK: String(rank), LOCAL_WORLD_SIZE: String(n), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), [SECRET_ENV]: secret },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        children.push(child);
        const prefix = (stream: NodeJS.WritableStream) => (d: Buffer) => {
          for (const line of d.toString().split(/(?<=\n)/)) stream.write(rank === 0 ? line : `[${rank}] ${line}`);
        };
        child.stdout!.on('data', prefix(process.stdout));
        child.stderr!.on('data', prefix(process.stderr));
        return new Promise<void>((resolve) =>
          child.on('exit', (code, signal) => {
            codes[rank] = code ?? (signal ? 128 : 1);
            if (codes[rank] !== 0 && !failed) {
              failed = true;
              process.stderr.write(`openclip launch: rank ${rank} exited with ${signal ?? code}; stopping the others\n`);
              for (const c of children) if (c !== child && c.exitCode === null) c.kill('SIGTERM');
            }
            resolve();
          }),
        );
      }),
    );
    if (failed) this.error(`openclip launch: the job failed (exit codes ${codes.join(', ')})`, { exit: 1 });
    return this.finish({ processes: n, exitCodes: codes });
  }

  protected render(r: LaunchResult): void {
    this.log(`openclip launch: ${r.processes} processes finished`);
  }
}
