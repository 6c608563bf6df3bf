/** "Did you mean" helper: the known names closest to an unknown one (OpenCLIP prints a plain "not found"). */

/** Levenshtein distance, case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  if (s === t) return 0;
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const cur = [i];
    for (let j = 1; j <= t.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (s[i - 1] === t[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[t.length];
}

/** Up to `limit` candidates nearest to `name`; substring matches rank first. */
export function nearestNames(name: string, candidates: Iterable<string>, limit = 3): string[] {
  const lower = name.toLowerCase();
  return [...candidates]
    .map((c) => {
      const cl = c.toLowerCase();
      const contains = lower.length > 0 && (cl.includes(lower) || lower.includes(cl));
      return { c, d: editDistance(name, c) - (contains ? 100 : 0) };
    })
    .sort((x, y) => x.d - y.d || x.c.localeCompare(y.c))
    .slice(0, limit)
    .map((x) => x.c);
}

/** " (did you mean 'a', 'b'?)" or "" when nothing is known. */
export function didYouMean(name: string, candidates: Iterable<string>, limit = 3): string {
  const near = nearestNames(name, candidates, limit);
  return near.length ? ` (did you mean ${near.map((n) => `'${n}'`).join(', ')}?)` : '';
}
