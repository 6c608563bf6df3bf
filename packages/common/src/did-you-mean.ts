/**
 * "Did you mean" suggestions for unknown names (model names, config keys, flags): one edit
 * distance and one ranking for every package.
 */

/** Levenshtein distance (insertions, deletions and substitutions cost 1; case-sensitive). */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}

export interface NearestOptions {
  /** How many names to return (default 3). */
  limit?: number;
  /** Rank candidates that contain the name, or are contained in it, before all others. */
  substringFirst?: boolean;
  /** How equally distant candidates are ordered: alphabetically (default) or as given. */
  ties?: 'alphabetical' | 'given';
}

/** The candidates closest to `name` by case-insensitive edit distance, nearest first. */
export function nearestNames(name: string, candidates: Iterable<string>, options: NearestOptions = {}): string[] {
  const { limit = 3, substringFirst = false, ties = 'alphabetical' } = options;
  const lower = name.toLowerCase();
  return [...candidates]
    .map((c) => {
      const cl = c.toLowerCase();
      const contains = substringFirst && lower.length > 0 && (cl.includes(lower) || lower.includes(cl));
      return { c, d: editDistance(lower, cl) - (contains ? 100 : 0) };
    })
    .sort((x, y) => x.d - y.d || (ties === 'alphabetical' ? x.c.localeCompare(y.c) : 0))
    .slice(0, limit)
    .map((x) => x.c);
}

/** " (did you mean 'a', 'b'?)" with the nearest names (substrings first), or "" when there are none. */
export function didYouMean(name: string, candidates: Iterable<string>, limit = 3): string {
  const near = nearestNames(name, candidates, { limit, substringFirst: true });
  return near.length ? ` (did you mean ${near.map((n) => `'${n}'`).join(', ')}?)` : '';
}
