/**
 * OpenCLIP's `CsvDataset` input: a delimited file (`--csv-separator`, default tab) with an image path
 * column (`--csv-img-key`, default `filepath`) and a caption column (`--csv-caption-key`, default
 * `title`), parsed as a stream with csv-parse (quoted fields, multi-line captions). Relative image paths
 * are resolved against the CSV's folder.
 */
import { createReadStream, accessSync, constants } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'csv-parse';
import { findQuoteProblem } from './csv-quote-scan.js';

export interface CsvOptions {
  separator?: string;
  imgKey?: string;
  captionKey?: string;
}

export interface CsvRows {
  file: string;
  /** Absolute image paths. */
  images: string[];
  captions: string[];
  /** 1-based line where each record starts, for messages. */
  lines: number[];
}

/** `--csv-separator` as given; the two-character `\t` is read as a tab (pandas treats it as that regex too). */
export function normaliseSeparator(sep: string): string {
  if (sep === '\\t') return '\t';
  if (sep.length === 0) throw new Error('--csv-separator must not be empty');
  return sep;
}

/** Reads the whole index of a CSV dataset (paths and captions, not images). */
export async function readCsvDataset(file: string, opts: CsvOptions = {}): Promise<CsvRows> {
  const separator = normaliseSeparator(opts.separator ?? '\t');
  const imgKey = opts.imgKey ?? 'filepath';
  const captionKey = opts.captionKey ?? 'title';
  try {
    accessSync(file, constants.R_OK);
  } catch (e) {
    throw new Error(`cannot read CSV ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const base = dirname(resolve(file));
  const parser = createReadStream(file).pipe(
    parse({ delimiter: separator, bom: true, info: true, skip_empty_lines: true, relax_column_count: false }),
  );
  const rows: CsvRows = { file, images: [], captions: [], lines: [] };
  let imgCol = -1;
  let capCol = -1;
  let header: string[] | null = null;
  try {
    for await (const rec of parser as AsyncIterable<{ record: string[]; info: { lines: number; raw?: string } }>) {
      const fields = rec.record;
      if (header === null) {
        header = fields.map((h) => h.trim());
        imgCol = header.indexOf(imgKey);
        capCol = header.indexOf(captionKey);
        const sepName = separator === '\t' ? 'tab' : `'${separator}'`;
        if (imgCol < 0) {
          throw new Error(`${file} line 1: no image column '${imgKey}' (columns with separator ${sepName}: ${header.join(', ')}); choose one with --csv-img-key or fix --csv-separator`);
        }
        if (capCol < 0) {
          throw new Error(`${file} line 1: no caption column '${captionKey}' (columns with separator ${sepName}: ${header.join(', ')}); choose one with --csv-caption-key or fix --csv-separator`);
        }
        continue;
      }
      const p = fields[imgCol];
      rows.images.push(p === '' ? '' : isAbsolute(p) ? p : resolve(base, p));
      rows.captions.push(fields[capCol]);
      rows.lines.push(rec.info.lines);
    }
  } catch (e) {
    const err = e as Error & { code?: string; lines?: number };
    if (err.code && err.code.startsWith('CSV_')) {
      // the parser names the line where it gave up; a quoting error began where its quote opened
      const q = /QUOTE/.test(err.code) ? await findQuoteProblem(file, separator).catch(() => null) : null;
      if (q?.kind === 'unclosed') throw new Error(`${file} line ${q.openedAt}: a quoted field opens here and is never closed (the parser reached line ${err.lines ?? q.foundAt} still inside it)`);
      if (q?.kind === 'bad-closing') throw new Error(`${file} line ${q.foundAt}: a quoted field opened at line ${q.openedAt} is closed and followed by more text (double a quote inside a quoted field: "")`);
      throw new Error(`${file} line ${err.lines ?? '?'}: ${err.message}`);
    }
    throw err;
  }
  if (header === null) throw new Error(`${file}: empty CSV (expected a header line with '${imgKey}' and '${captionKey}')`);
  return rows;
}
