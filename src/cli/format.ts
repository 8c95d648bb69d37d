/** Small text-formatting helpers for the terminal reports. */

export function fmtParams(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

/**
 * A token as it should be shown: quoted, with control and invisible characters escaped, so spaces,
 * newlines and stray bytes are visible.
 */
export function showToken(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\u009f\u00ad\u200b-\u200f\u2028\u2029\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A horizontal bar of `width` cells for a fraction in [0, 1], in eighths of a cell. */
export function bar(fraction: number, width: number): string {
  const eighths = Math.round(Math.max(0, Math.min(1, fraction)) * width * 8);
  const full = Math.floor(eighths / 8), rest = eighths % 8;
  return ('█'.repeat(full) + (rest ? '▏▎▍▌▋▊▉'[rest - 1]! : '')).padEnd(width);
}

/** Pads a string to a display width, counting each code point once (good enough for token text). */
export function pad(s: string, width: number, right = false): string {
  const len = Array.from(s).length;
  if (len >= width) return s;
  return right ? ' '.repeat(width - len) + s : s + ' '.repeat(width - len);
}

export function prob(p: number): string {
  return p.toFixed(4);
}

/** The shades of a heat map cell, by value in [0, 1]: · < 0.1, ░ < 0.25, ▒ < 0.5, ▓ < 0.75, █ from 0.75. */
export const SHADES = [[0.1, '·'], [0.25, '░'], [0.5, '▒'], [0.75, '▓'], [Infinity, '█']] as const;

export function shade(x: number): string {
  return SHADES.find(([hi]) => x < hi)![1];
}

/** A shown (quoted) token cut to `width` code points, with … before the closing quote. */
export function clip(s: string, width: number): string {
  const cp = Array.from(s);
  return cp.length <= width ? s : cp.slice(0, width - 2).join('') + '…"';
}
