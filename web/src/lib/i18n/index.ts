// Every text a person reads comes from a message catalogue through t(). Only English exists so far;
// a translation is another object with the same keys, picked in `catalogue` below.

import { en, type MessageKey } from './en';

export type { MessageKey };

const catalogue: Record<MessageKey, string> = en;

export const locale = 'en';

/** The message for `key`, with `{name}` placeholders filled from `params`. */
export function t(key: MessageKey, params?: Record<string, string | number>): string {
  const text = catalogue[key];
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = params[name];
    return value === undefined ? whole : String(value);
  });
}

const plurals = new Intl.PluralRules(locale);

/** Picks `<key>_one` or `<key>_other` by the plural rule for `count`, and fills `{count}`. */
export function tn(key: string, count: number, params?: Record<string, string | number>): string {
  const form = plurals.select(count) === 'one' ? 'one' : 'other';
  return t(`${key}_${form}` as MessageKey, { count: formatNumber(count), ...params });
}

export function formatNumber(n: number): string {
  return new Intl.NumberFormat(locale, { notation: n >= 10000 ? 'compact' : 'standard', maximumFractionDigits: 1 }).format(n);
}
