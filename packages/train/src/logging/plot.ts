/**
 * The end-of-epoch plot of a run: training loss (per logged step) and evaluation metrics (per
 * epoch) as line charts, written as a self-contained HTML page with inline SVG (no scripts, no
 * network) and, when sharp can rasterise it, a PNG beside it.
 */
import { writeFileSync } from 'node:fs';

export interface Series {
  name: string;
  points: [number, number][];
}

export interface Panel {
  title: string;
  xLabel: string;
  series: Series[];
}

const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Round, readable tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmt(v: number): string {
  return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(1) : String(Number(v.toPrecision(4)));
}

/** One panel as an SVG group of the given size. */
function panelSvg(panel: Panel, x0: number, y0: number, w: number, h: number): string {
  const longest = Math.max(0, ...panel.series.map((s) => s.name.length));
  const left = 60, right = Math.max(150, 44 + 6.6 * longest), top = 28, bottom = 40;
  const pw = w - left - right, ph = h - top - bottom;
  const pts = panel.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const parts = [`<g transform="translate(${x0},${y0})">`, `<text x="${w / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${esc(panel.title)}</text>`];
  if (pts.length === 0) {
    parts.push(`<text x="${w / 2}" y="${h / 2}" text-anchor="middle" font-size="12" fill="#888">no data yet</text></g>`);
    return parts.join('');
  }
  let [xmin, xmax] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  let [ymin, ymax] = [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (xmax === xmin) [xmin, xmax] = [xmin - 1, xmax + 1];
  if (ymax === ymin) [ymin, ymax] = [ymin - Math.abs(ymin || 1) * 0.1, ymax + Math.abs(ymax || 1) * 0.1];
  const sx = (x: number) => left + ((x - xmin) / (xmax - xmin)) * pw;
  const sy = (y: number) => top + ph - ((y - ymin) / (ymax - ymin)) * ph;
  parts.push(`<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  for (const t of ticks(ymin, ymax)) {
    parts.push(`<line x1="${left}" x2="${left + pw}" y1="${sy(t)}" y2="${sy(t)}" stroke="#ddd"/>`, `<text x="${left - 6}" y="${sy(t) + 4}" text-anchor="end" font-size="11">${fmt(t)}</text>`);
  }
  for (const t of ticks(xmin, xmax)) {
    parts.push(`<line x1="${sx(t)}" x2="${sx(t)}" y1="${top + ph}" y2="${top + ph + 4}" stroke="#444"/>`, `<text x="${sx(t)}" y="${top + ph + 16}" text-anchor="middle" font-size="11">${fmt(t)}</text>`);
  }
  parts.push(`<text x="${left + pw / 2}" y="${h - 6}" text-anchor="middle" font-size="12">${esc(panel.xLabel)}</text>`);
  panel.series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const good = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (good.length > 1) parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="1.8" points="${good.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"/>`);
    for (const [x, y] of good.length <= 60 ? good : []) parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${colour}"/>`);
    parts.push(`<line x1="${left + pw + 12}" x2="${left + pw + 30}" y1="${top + 10 + i * 18}" y2="${top + 10 + i * 18}" stroke="${colour}" stroke-width="3"/>`, `<text x="${left + pw + 36}" y="${top + 14 + i * 18}" font-size="11">${esc(s.name)}</text>`);
  });
  parts.push('</g>');
  return parts.join('');
}

/** The panels stacked vertically as one SVG document. */
export function renderSvg(panels: Panel[], width = 800, panelHeight = 300): string {
  const h = panelHeight * Math.max(1, panels.length);
  const body = panels.map((p, i) => panelSvg(p, 0, i * panelHeight, width, panelHeight)).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h}" viewBox="0 0 ${width} ${h}" font-family="DejaVu Sans, Arial, sans-serif"><rect width="100%" height="100%" fill="white"/>${body}</svg>`;
}

/**
 * Writes `<base>.html` (always) and `<base>.png` (when sharp is installed and can rasterise SVG).
 * Returns the files written.
 */
export async function writePlot(base: string, title: string, panels: Panel[]): Promise<string[]> {
  const svg = renderSvg(panels);
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head><body style="font-family:sans-serif"><h2>${esc(title)}</h2>${svg}</body></html>\n`;
  writeFileSync(`${base}.html`, html);
  const written = [`${base}.html`];
  try {
    const sharp = (await import('sharp')).default;
    await sharp(Buffer.from(svg)).png().toFile(`${base}.png`);
    written.push(`${base}.png`);
  } catch {
    // sharp missing or without SVG support: the HTML page is the plot
  }
  return written;
}
