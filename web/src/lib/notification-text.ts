// What a notification says and where it leads: the message of its kind, the names that fill the
// message, the page it links to and whose avatar goes with it. Names are data, never markup:
// `sentenceParts` cuts the filled message into text runs and named parts, which the components
// render as text nodes (the names in <strong>). Reports lead moderators to the reports page and
// reporters to their own reports; a blocked or unblocked video leads to the video, and a new upload
// held for review to the blocked videos page.

import { AbuseState, NotificationType, type NotificationActor, type NotificationVideo, type UserNotification } from '$lib/api/types';
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
export const ADMIN_ABUSES_PAGE = '/admin/moderation/abuses/list';
export const MY_ABUSES_PAGE = '/my-account/abuses';
export const ADMIN_VIDEO_BLOCKS_PAGE = '/admin/moderation/video-blocks/list';

/** `host` is this instance's (`location.host`): its actors are named without it. */
export function describeNotification(n: UserNotification, host: string): NotificationView {
  const video = n.video ?? null;
  const comment = n.comment ?? null;
  const follow = n.actorFollow ?? null;
  const abuse = n.abuse ?? null;
  const blocked = n.videoBlacklist?.video ?? null;
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
    case NotificationType.NewAbuseForModerators: {
      if (!abuse) break;
      const href = ADMIN_ABUSES_PAGE;
      if (abuse.video) return { key: 'notifications.abuseVideo', values: { video: abuse.video.name }, href, actor: null };
      if (abuse.comment) return { key: 'notifications.abuseComment', values: { video: abuse.comment.video.name }, href, actor: null };
      if (abuse.account) return { key: 'notifications.abuseAccount', values: { account: nameOf(abuse.account) }, href, actor: abuse.account };
      return { key: 'notifications.abuseNew', values: { report: reportName(abuse.id) }, href, actor: null };
    }
    case NotificationType.AbuseStateChange: {
      if (!abuse) break;
      const state = typeof abuse.state === 'object' && abuse.state !== null ? abuse.state.id : abuse.state;
      const key: MessageKey = state === AbuseState.Accepted ? 'notifications.abuseAccepted' : state === AbuseState.Rejected ? 'notifications.abuseRejected' : 'notifications.abuseState';
      return { key, values: { report: reportName(abuse.id) }, href: MY_ABUSES_PAGE, actor: null };
    }
    case NotificationType.AbuseNewMessage:
      if (!abuse) break;
      return { key: 'notifications.abuseMessage', values: { report: reportName(abuse.id) }, href: MY_ABUSES_PAGE, actor: null };
    case NotificationType.BlacklistOnMyVideo:
    case NotificationType.UnblacklistOnMyVideo:
      if (!blocked) break;
      return {
        key: n.type === NotificationType.BlacklistOnMyVideo ? 'notifications.blocked' : 'notifications.unblocked',
        values: { video: blocked.name },
        href: videoPath(blocked),
        actor: null,
      };
    case NotificationType.VideoAutoBlacklistForModerators:
      if (!blocked) break;
      return { key: 'notifications.autoBlocked', values: { video: blocked.name }, href: ADMIN_VIDEO_BLOCKS_PAGE, actor: blocked.channel ?? null };
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

function reportName(id: number): string {
  return `#${id}`;
}

function videoPath(video: NotificationVideo): string {
  return `/w/${encodeURIComponent(video.shortUUID || video.uuid)}`;
}
