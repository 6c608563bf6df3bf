// Test helper: runs CPython's own string functions on a batch of inputs, as an independent oracle.
import { spawnSync } from 'node:child_process';

const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';

/** Whether a Python 3 interpreter is available for oracle tests. */
export const hasPython: boolean = (() => {
  const r = spawnSync(PYTHON, ['-c', 'import html, sys; print(sys.version_info[0])'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() === '3';
})();

/** Whether the interpreter also has the `regex` module OpenCLIP's tokenizer uses. */
export const hasPythonRegex: boolean =
  hasPython && spawnSync(PYTHON, ['-c', 'import regex'], { encoding: 'utf8' }).status === 0;

/**
 * Apply the Python expression `expr` (a function of `s`) to every input. Strings travel as JSON with
 * surrogatepass so lone surrogates survive the round trip.
 */
export function pythonMap(expr: string, inputs: string[]): string[] {
  const script = [
    'import html, json, sys, string',
    ...(hasPythonRegex ? ['import regex'] : []),
    'data = json.loads(sys.stdin.buffer.read().decode("utf-8", "surrogatepass"))',
    `f = lambda s: ${expr}`,
    'out = json.dumps([f(s) for s in data])',
    'sys.stdout.buffer.write(out.encode("utf-8", "surrogatepass"))',
  ].join('\n');
  const r = spawnSync(PYTHON, ['-c', script], { input: JSON.stringify(inputs), encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`python oracle failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as string[];
}
