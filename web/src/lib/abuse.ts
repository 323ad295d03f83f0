// Reports ("abuses") and video blocks: the server's limits, the predefined reasons a report may
// name, which of them fit what is reported, what a report is about, and the times a video report
// may point at (read as people write them: 83, 1:23, 1:02:03).

import { ABUSE_PREDEFINED_REASONS, type Abuse, type AbuseFilter, type AbusePredefinedReason } from '$lib/api/types';

export const ABUSE_REASON_MIN = 2;
export const ABUSE_REASON_MAX = 3000;
export const BLOCK_REASON_MIN = 2;
export const BLOCK_REASON_MAX = 300;

/** What is reported: a video, a comment or an account. */
export type ReportTarget =
  | { kind: 'video'; id: number; name: string; duration?: number; currentTime?: () => number | null }
  | { kind: 'comment'; id: number; name: string }
  | { kind: 'account'; id: number; name: string };

/** The predefined reasons offered for a kind: thumbnails and captions belong to videos only. */
export function reasonsFor(kind: ReportTarget['kind']): readonly AbusePredefinedReason[] {
  return kind === 'video' ? ABUSE_PREDEFINED_REASONS : ABUSE_PREDEFINED_REASONS.filter((r) => r !== 'thumbnails' && r !== 'captions');
}

/** What a report is about, from which of its parts the server filled in. */
export function abuseKind(a: Pick<Abuse, 'video' | 'comment'>): AbuseFilter {
  if (a.video) return 'video';
  if (a.comment) return 'comment';
  return 'account';
}

/** "83", "1:23", "1:02:03" → seconds; anything else → null. */
export function parseTime(text: string): number | null {
  const v = text.trim();
  if (!/^\d+(:\d{1,2}){0,2}$/.test(v)) return null;
  const parts = v.split(':').map(Number);
  if (parts.slice(1).some((p) => p >= 60)) return null;
  return parts.reduce((total, p) => total * 60 + p, 0);
}
