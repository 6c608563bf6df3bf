/**
 * argparse semantics for repeated flags: `--epochs 3 --epochs 1` means `--epochs 1` (the last
 * occurrence wins, also for list flags such as `--aug-cfg` and `--image-mean`). oclif refuses a
 * repeated single-value flag and concatenates repeated list flags, so the command line is reduced
 * to the last occurrence of each flag before oclif parses it. Tokens are read the way oclif's
 * parser reads them: `--name value`, `--name=value`, `-c value`, `-cvalue`, a list flag taking
 * every following token that is not a flag, and nothing after `--`.
 */

/** What the reduction needs to know of a flag definition (oclif's flag objects satisfy it). */
export interface FlagShape {
  type: 'boolean' | 'option';
  multiple?: boolean;
  char?: string;
  allowNo?: boolean;
  aliases?: readonly string[];
}

interface Occurrence {
  name: string;
  start: number;
  end: number; // exclusive
}

function isNegativeNumber(s: string): boolean {
  return /^-\d/.test(s) || /^-\.\d/.test(s);
}

function lookup(token: string, flags: Record<string, FlagShape>): { name: string; flag: FlagShape; inline: boolean } | null {
  if (token.startsWith('--')) {
    const eq = token.indexOf('=');
    const raw = eq === -1 ? token.slice(2) : token.slice(2, eq);
    const inline = eq !== -1;
    if (flags[raw]) return { name: raw, flag: flags[raw], inline };
    for (const [name, f] of Object.entries(flags)) if (f.aliases?.includes(raw)) return { name, flag: f, inline };
    if (raw.startsWith('no-') && flags[raw.slice(3)]?.allowNo) return { name: raw.slice(3), flag: flags[raw.slice(3)], inline };
    return null;
  }
  if (token.length >= 2 && token[0] === '-' && token[1] !== '-') {
    for (const [name, f] of Object.entries(flags)) {
      if (f.char === token[1]) return { name, flag: f, inline: f.type === 'option' && token.length > 2 };
    }
  }
  return null;
}

/**
 * Returns `argv` with every flag given more than once reduced to its last occurrence; unknown
 * tokens, positional arguments and everything after `--` are kept in place.
 */
export function lastFlagWins(argv: readonly string[], flags: Record<string, FlagShape>): string[] {
  const occurrences: Occurrence[] = [];
  let i = 0;
  let open: Occurrence | null = null; // a list flag still taking values
  while (i < argv.length) {
    const token = argv[i];
    if (token === '--') break;
    const isFlagLike = token.startsWith('-') && token !== '-' && !(open && isNegativeNumber(token));
    if (!isFlagLike) {
      if (open) open.end = i + 1;
      i++;
      continue;
    }
    open = null;
    const found = lookup(token, flags);
    if (!found) {
      i++;
      continue;
    }
    const occ: Occurrence = { name: found.name, start: i, end: i + 1 };
    // a value that is itself a flag is no value (oclif then reports the missing value)
    if (found.flag.type === 'option' && !found.inline && i + 1 < argv.length && !lookup(argv[i + 1], flags)) occ.end = i + 2;
    occurrences.push(occ);
    if (found.flag.type === 'option' && found.flag.multiple) open = occ;
    i = occ.end;
  }
  const last = new Map<string, Occurrence>();
  for (const o of occurrences) last.set(o.name, o);
  const drop = new Set<number>();
  for (const o of occurrences) {
    if (last.get(o.name) === o) continue;
    for (let k = o.start; k < o.end; k++) drop.add(k);
  }
  return argv.filter((_, k) => !drop.has(k));
}
