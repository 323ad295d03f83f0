// What a notification says and where it leads: the message of its kind, the names that fill the
// message, the page it links to and whose avatar goes with it. Names are data, never markup:
// `sentenceParts` cuts the filled message into text runs and named parts, which the components
// render as text nodes (the names in <strong>).

import { NotificationType, type NotificationActor, type NotificationVideo, type UserNotification } from '$lib/api/types';
import type { MessageKey } from '$lib/i18n';

export interface NotificationView {
  key: MessageKey;
  /** The values of the message's `{placeholders}`. */
  values: Record<string, string>;
  href: string;
  /** Who did it (the commenter, the follower, the channel), for the avatar. */
  actor: NotificationActor | null;
}

/** Where a notification of an unknown kind leads: the list of them all. */
export const NOTIFICATIONS_PAGE = '/my-account/notifications';

/** `host` is this instance's (`location.host`): its actors are named without it. */
export function describeNotification(n: UserNotification, host: string): NotificationView {
  const video = n.video ?? null;
  const comment = n.comment ?? null;
  const follow = n.actorFollow ?? null;
  switch (n.type) {
    case NotificationType.NewVideoFromSubscription:
      if (!video) break;
      return {
        key: 'notifications.newVideo',
        values: { channel: nameOf(video.channel), video: video.name },
        href: videoPath(video),
        actor: video.channel ?? null,
      };
    case NotificationType.MyVideoPublished:
      if (!video) break;
      return { key: 'notifications.published', values: { video: video.name }, href: videoPath(video), actor: video.channel ?? null };
    case NotificationType.NewCommentOnMyVideo:
    case NotificationType.CommentMention: {
      if (!comment) break;
      const key: MessageKey =
        n.type === NotificationType.CommentMention ? 'notifications.mention' : comment.heldForReview ? 'notifications.commentHeld' : 'notifications.comment';
      return {
        key,
        values: { account: nameOf(comment.account), video: comment.video.name },
        href: `${videoPath(comment.video)}?threadId=${encodeURIComponent(comment.threadId)}`,
        actor: comment.account,
      };
    }
    case NotificationType.NewFollow: {
      if (!follow) break;
      const onChannel = follow.following.type === 'channel';
      return {
        key: onChannel ? 'notifications.followChannel' : 'notifications.followAccount',
        values: { account: nameOf(follow.follower), channel: nameOf(follow.following) },
        href: `/a/${encodeURIComponent(handle(follow.follower, host))}`,
        actor: follow.follower,
      };
    }
  }
  return { key: 'notifications.other', values: { type: String(n.type) }, href: NOTIFICATIONS_PAGE, actor: null };
}

export type SentencePart = { text: string; name?: undefined } | { text: string; name: string };

/**
 * Cuts a message with `{placeholders}` into its text and its filled placeholders, in order; a
 * placeholder without a value stays as written.
 */
export function sentenceParts(template: string, values: Record<string, string>): SentencePart[] {
  const parts: SentencePart[] = [];
  const re = /\{(\w+)\}/g;
  let last = 0;
  for (let m = re.exec(template); m; m = re.exec(template)) {
    const name = m[1] as string;
    const value = values[name];
    if (value === undefined) continue;
    if (m.index > last) parts.push({ text: template.slice(last, m.index) });
    parts.push({ text: value, name });
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push({ text: template.slice(last) });
  return mergeText(parts);
}

function mergeText(parts: SentencePart[]): SentencePart[] {
  const out: SentencePart[] = [];
  for (const p of parts) {
    const prev = out[out.length - 1];
    if (prev && prev.name === undefined && p.name === undefined) out[out.length - 1] = { text: prev.text + p.text };
    else out.push(p);
  }
  return out;
}

function nameOf(actor: { displayName?: string; name: string } | null | undefined): string {
  if (!actor) return '';
  return actor.displayName?.trim() ? actor.displayName : actor.name;
}

function handle(actor: { name: string; host: string }, host: string): string {
  return actor.host === host ? actor.name : `${actor.name}@${actor.host}`;
}

function videoPath(video: NotificationVideo): string {
  return `/w/${encodeURIComponent(video.shortUUID || video.uuid)}`;
}
