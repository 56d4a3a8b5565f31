// How times, sizes and durations read on the dashboard.
export function timestamp(at: Date | string | null | undefined): string {
  if (!at) return '';
  return new Date(at).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function age(at: Date | string | null | undefined, now = Date.now()): string {
  if (!at) return '';
  return `${duration(now - new Date(at).getTime())} ago`;
}

export function duration(ms: number | string | null | undefined): string {
  if (ms === null || ms === undefined) return '';
  const s = Number(ms) / 1000;
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86_400).toFixed(1)} d`;
}

export function bytes(n: number | string | null | undefined): string {
  if (n === null || n === undefined) return '';
  let v = Number(n);
  for (const unit of ['B', 'KiB', 'MiB', 'GiB', 'TiB']) {
    if (Math.abs(v) < 1024 || unit === 'TiB') return unit === 'B' ? `${v} B` : `${v.toFixed(1)} ${unit}`;
    v /= 1024;
  }
  return `${n} B`;
}
