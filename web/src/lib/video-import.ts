// What the pages say about an import by URL (PeerTube's `VideoImport`): whether it is still
// running, what may be done with it, how far its download is.

import { VideoImportState, type VideoImport } from '$lib/api/types';
import { t, type MessageKey } from '$lib/i18n';

/** How often a page asks again about an import that is pending or downloading, on the upload page. */
export const IMPORT_POLL_MS = 2000;

/** Pending or downloading: it may be cancelled, not deleted. */
export function importRunning(i: VideoImport): boolean {
  return i.state.id === VideoImportState.Pending || i.state.id === VideoImportState.Processing;
}

/** Failed or cancelled, and its video still there (the server cannot retry without it). */
export function importRetryable(i: VideoImport): boolean {
  return (i.state.id === VideoImportState.Failed || i.state.id === VideoImportState.Cancelled) && i.video !== null;
}

/** The state's name ("Pending", "Processing"…), the server's label for one this client does not know. */
export function importStateLabel(i: VideoImport): string {
  const known: number[] = Object.values(VideoImportState);
  return known.includes(i.state.id) ? t(`videoImport.state.${i.state.id}` as MessageKey) : i.state.label;
}

/** The share downloaded, 0–100, when the server knows the total; else null. */
export function importPercent(i: VideoImport): number | null {
  const total = i.totalBytes ?? 0;
  if (total <= 0) return null;
  return Math.min(100, Math.floor(((i.downloadedBytes ?? 0) / total) * 100));
}
