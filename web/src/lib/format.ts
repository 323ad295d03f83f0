// Durations, dates, sizes and speeds the way people read them, in the interface's locale.

import { locale, t } from '$lib/i18n';

/** 75 → "1:15", 3700 → "1:01:40". */
export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

const units: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
];

/** "3 days ago", "in 2 hours", "just now". */
export function relativeDate(iso: string, now: number = Date.now()): string {
  const seconds = (new Date(iso).getTime() - now) / 1000;
  const rtf = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return rtf.format(Math.round(seconds / size), unit);
  }
  return t('common.justNow');
}

export function fullDate(iso: string): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeStyle: 'short' }).format(new Date(iso));
}

const byteUnits = ['byte', 'kilobyte', 'megabyte', 'gigabyte', 'terabyte'] as const;

/** 1536 → "1.5 kB". */
export function formatBytes(bytes: number): string {
  let value = Math.max(0, bytes);
  let i = 0;
  while (value >= 1000 && i < byteUnits.length - 1) {
    value /= 1000;
    i += 1;
  }
  return new Intl.NumberFormat(locale, {
    style: 'unit',
    unit: byteUnits[i],
    // ICU's short form of a plain byte reads "0 byte"; the long one is "0 bytes" ("0 octets").
    unitDisplay: i === 0 ? 'long' : 'short',
    maximumFractionDigits: value < 10 && i > 0 ? 1 : 0,
  }).format(value);
}

/** Seconds left as "2 min 5 s" style text. */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.ceil(seconds);
  const nf = (unit: 'hour' | 'minute' | 'second', n: number) =>
    new Intl.NumberFormat(locale, { style: 'unit', unit, unitDisplay: 'narrow' }).format(n);
  if (s >= 3600) return `${nf('hour', Math.floor(s / 3600))} ${nf('minute', Math.floor((s % 3600) / 60))}`;
  if (s >= 60) return `${nf('minute', Math.floor(s / 60))} ${nf('second', s % 60)}`;
  return nf('second', s);
}

/** A length of time as one rounded unit: 172800 → "2 days", 7200 → "2 hours", 90 → "2 minutes". */
export function formatPeriod(seconds: number): string {
  const s = Math.max(0, seconds);
  const [unit, size]: ['day' | 'hour' | 'minute', number] = s >= 86400 ? ['day', 86400] : s >= 3600 ? ['hour', 3600] : ['minute', 60];
  return new Intl.NumberFormat(locale, { style: 'unit', unit, unitDisplay: 'long', maximumFractionDigits: 0 }).format(Math.max(1, Math.round(s / size)));
}
