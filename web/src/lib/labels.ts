// The instance's lists of categories, licences and languages, fetched once.

import { getLabels } from '$lib/api/endpoints';

export interface Labels {
  categories: [string, string][];
  licences: [string, string][];
  languages: [string, string][];
}

let cached: Promise<Labels> | null = null;

const sorted = (m: Record<string, string>): [string, string][] =>
  Object.entries(m).sort((a, b) => a[1].localeCompare(b[1]));

export function loadLabels(): Promise<Labels> {
  cached ??= Promise.all([getLabels('categories'), getLabels('licences'), getLabels('languages')])
    .then(([c, l, g]) => ({
      categories: sorted(c),
      licences: Object.entries(l).sort((a, b) => Number(a[0]) - Number(b[0])),
      languages: sorted(g),
    }))
    .catch((e: unknown) => {
      cached = null;
      throw e;
    });
  return cached;
}
