// The instance's public configuration (GET /api/v1/config), loaded once when the app starts.

import { getConfig } from '$lib/api/endpoints';
import type { ServerConfig } from '$lib/api/types';

class InstanceConfig {
  value = $state<ServerConfig | null>(null);
  error = $state<string | null>(null);
}

export const instance = new InstanceConfig();

/** The instance's name (before the config has loaded: Flotilla). */
export function instanceName(): string {
  return instance.value?.instance.name ?? 'Flotilla';
}

/** A page's `<title>`: what it shows, then the instance. */
export function pageTitle(what: string): string {
  return `${what} – ${instanceName()}`;
}

let loading: Promise<ServerConfig | null> | null = null;

export function loadConfig(): Promise<ServerConfig | null> {
  loading ??= getConfig()
    .then((c) => {
      instance.value = c;
      return c;
    })
    .catch((e: unknown) => {
      instance.error = e instanceof Error ? e.message : String(e);
      loading = null;
      return null;
    });
  return loading;
}
