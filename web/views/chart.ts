// Line charts as inline SVG: no script, no build step. Good enough for a few hundred points.
import { escapeHtml, trusted, type Html } from './html.ts';

export interface Series {
  label: string;
  points: Array<{ at: Date; value: number }>;
  /** A projection rather than a measurement. */
  dashed?: boolean;
}

const colours = ['#2f6fdf', '#c2410c', '#15803d', '#7c3aed'];

export function lineChart(series: Series[], format: (value: number) => string, size = { width: 640, height: 220 }): Html {
  const all = series.flatMap((s) => s.points);
  if (!all.length) return trusted('<p class="muted">no data yet</p>');
  const pad = { left: 80, right: 16, top: 12, bottom: 36 };
  const w = size.width - pad.left - pad.right;
  const h = size.height - pad.top - pad.bottom;
  const times = all.map((p) => p.at.getTime());
  const values = all.map((p) => p.value);
  const [t0, t1] = [Math.min(...times), Math.max(...times)];
  const [v0, v1] = [Math.min(0, ...values), Math.max(...values)];
  const x = (t: number) => pad.left + (t1 === t0 ? w / 2 : ((t - t0) / (t1 - t0)) * w);
  const y = (v: number) => pad.top + h - (v1 === v0 ? h / 2 : ((v - v0) / (v1 - v0)) * h);
  const day = (t: number) => new Date(t).toISOString().slice(0, 10);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size.width}" height="${size.height}" role="img">`,
    `<line x1="${pad.left}" y1="${pad.top + h}" x2="${pad.left + w}" y2="${pad.top + h}" stroke="#999"/>`,
    `<line x1="${pad.left}" y1="${pad.top}" x2="${pad.left}" y2="${pad.top + h}" stroke="#999"/>`,
    `<text x="${pad.left - 6}" y="${pad.top + 10}" text-anchor="end" font-size="11">${escapeHtml(format(v1))}</text>`,
    `<text x="${pad.left - 6}" y="${pad.top + h}" text-anchor="end" font-size="11">${escapeHtml(format(v0))}</text>`,
    `<text x="${pad.left}" y="${pad.top + h + 16}" font-size="11">${day(t0)}</text>`,
    `<text x="${pad.left + w}" y="${pad.top + h + 16}" text-anchor="end" font-size="11">${day(t1)}</text>`,
  ];
  series.forEach((s, i) => {
    const colour = colours[i % colours.length]!;
    const path = s.points.map((p) => `${x(p.at.getTime()).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${path}"/>`);
    for (const p of s.points) parts.push(`<circle cx="${x(p.at.getTime()).toFixed(1)}" cy="${y(p.value).toFixed(1)}" r="2.5" fill="${colour}"/>`);
    parts.push(`<text x="${pad.left + 8 + i * 160}" y="${size.height - 4}" font-size="12" fill="${colour}">${escapeHtml(s.label)}</text>`);
  });
  parts.push('</svg>');
  return trusted(parts.join(''));
}
