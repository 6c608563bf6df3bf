/**
 * Finds where a CSV quoting error began. A parser that meets an unclosed quote can only say where
 * it gave up (often the end of the file); this scan walks the file with the same quoting rules
 * (a `"` opens a field only at its start, `""` is an escaped quote, a closing quote must be
 * followed by the separator or a line end) and reports the line where the offending quoted
 * field opened. It streams, so it costs one pass and constant memory, and runs only on error.
 */
import { createReadStream } from 'node:fs';

export interface QuoteProblem {
  kind: 'unclosed' | 'bad-closing';
  /** 1-based line where the quoted field opened. */
  openedAt: number;
  /** 1-based line where the problem was found. */
  foundAt: number;
}

export async function findQuoteProblem(file: string, separator: string): Promise<QuoteProblem | null> {
  const QUOTE = 34;
  const sep = Buffer.from(separator, 'utf8');
  let line = 1;
  let state: 'start' | 'plain' | 'quoted' | 'afterQuote' = 'start';
  let openedAt = 0;
  let sepMatch = 0;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (state === 'quoted') {
        if (c === QUOTE) state = 'afterQuote';
        if (c === 10) line++;
        continue;
      }
      if (state === 'afterQuote') {
        if (c === QUOTE) {
          state = 'quoted'; // "" inside a quoted field
          continue;
        }
        if (c !== 10 && c !== 13 && c !== sep[0]) return { kind: 'bad-closing', openedAt, foundAt: line };
        state = 'plain';
      }
      if (c === 10) {
        line++;
        state = 'start';
        sepMatch = 0;
        continue;
      }
      // separators (possibly several bytes) start a new field
      if (c === sep[sepMatch]) {
        sepMatch++;
        if (sepMatch === sep.length) {
          sepMatch = 0;
          state = 'start';
          continue;
        }
      } else sepMatch = c === sep[0] ? 1 : 0;
      if (state === 'start' && c === QUOTE) {
        state = 'quoted';
        openedAt = line;
        continue;
      }
      if (state === 'start' && sepMatch === 0) state = 'plain';
    }
  }
  return state === 'quoted' ? { kind: 'unclosed', openedAt, foundAt: line } : null;
}
