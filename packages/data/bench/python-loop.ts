/**
 * A Python loop the benchmarks run beside openclip-ts: a persistent `python3 -c SCRIPT` child that
 * prints one JSON line when ready, then answers each command line written to its stdin with one
 * line. Rounds of both sides alternate, so both see the same load on a shared machine.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { median } from '@openclip/test-config/bench';

export { median };

export class PythonLoop {
  private constructor(
    private readonly proc: ChildProcessWithoutNullStreams,
    private readonly lines: string[],
    private readonly waiters: ((line: string | null) => void)[],
    private readonly stderr: () => string,
    /** The script's first line, parsed. */
    readonly ready: unknown,
  ) {}

  /** Starts the script; null (after logging why) when python3, PIL or numpy is missing or it fails. */
  static async start(script: string, args: string[]): Promise<PythonLoop | null> {
    const proc = spawn('/usr/bin/python3', ['-c', script, ...args]);
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    proc.on('error', (e) => { stderr += e.message; });
    const lines: string[] = [];
    const waiters: ((line: string | null) => void)[] = [];
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const w = waiters.shift();
      if (w) w(line);
      else lines.push(line);
    });
    proc.on('close', () => { for (const w of waiters.splice(0)) w(null); });
    const first = await new Promise<string | null>((resolve) => (lines.length ? resolve(lines.shift() as string) : waiters.push(resolve)));
    if (first === null) {
      console.error(`python loop failed (${stderr.trim().split('\n').pop() ?? 'no output'}); only openclip-ts rows are reported`);
      return null;
    }
    return new PythonLoop(proc, lines, waiters, () => stderr, JSON.parse(first));
  }

  /** Sends one command and returns the script's answer line. */
  async round(command: string): Promise<string> {
    this.proc.stdin.write(`${command}\n`);
    const line = await new Promise<string | null>((resolve) => (this.lines.length ? resolve(this.lines.shift() as string) : this.waiters.push(resolve)));
    if (line === null) throw new Error(`python loop exited: ${this.stderr().trim().split('\n').pop()}`);
    return line;
  }

  close(): void {
    this.proc.stdin.end();
  }
}

/** Process CPU seconds (user + system, every thread of the process) since `from`. */
export function cpuSeconds(from?: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(from);
  return (c.user + c.system) / 1e6;
}
