// The instance's public configuration (GET /api/v1/config), loaded once when the app starts.

import { getConfig } from '$lib/api/endpoints';
import type { ServerConfig } from '$lib/api/types';

class InstanceConfig {
  value = $state<ServerConfig | null>(null);
  error = $state<string | null>(null);
}

export const instance = new InstanceConfig();

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
