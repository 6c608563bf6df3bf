// Helpers shared by every workspace's benches (bench/): the median, and the PyTorch side's runner.
import { spawnSync } from 'node:child_process';

/** The median of `xs` (the mean of the two middle values for an even count); NaN when empty. */
export function median(xs) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Runs a PyTorch bench script (`python3 -c py THREADS`, printing one JSON line `{torch, rows}`)
 * at `threads` and at 1 thread: on an oversubscribed machine OpenMP's spinning threads can make
 * the multi-threaded run far slower than the single-threaded one. Returns every row and torch's
 * version; when Python or torch is missing, says so on stdout and returns what it has.
 */
export function runTorchBench(py, threads) {
  const rows = [];
  let torchVersion = null;
  for (const t of [...new Set([threads, 1])]) {
    const res = spawnSync('/usr/bin/python3', ['-c', py, String(t)], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(t) } });
    if (res.status !== 0) {
      console.log(`(PyTorch side skipped: ${(res.stderr || res.error?.message || 'python3 unavailable').trim().split('\n').pop()})`);
      break;
    }
    const parsed = JSON.parse(res.stdout.trim().split('\n').pop());
    torchVersion = parsed.torch;
    rows.push(...parsed.rows);
  }
  return { rows, torchVersion };
}
