// What every comment of a video's comment section needs to know about the viewer and the video,
// shared by Comments.svelte with the comments below it (however deep) through Svelte's context.

import { getContext, setContext } from 'svelte';
import type { Account } from '$lib/api/types';

export interface CommentsContext {
  readonly videoId: number;
  /** Signed in, and the video takes comments. */
  readonly canComment: boolean;
  /** The video's owner or a moderator: deletes any comment, approves held ones. */
  readonly canModerate: boolean;
  /** Whether `account` is the signed-in viewer's. */
  isMine(account: Account | null): boolean;
  /** Asks the viewer to confirm, then runs `remove`. */
  confirmDelete(remove: () => Promise<void>): void;
  /** A comment that counts in "N comments" appeared (+1) or went (-1). */
  counted(delta: number): void;
  /** The viewer muted or unmuted an author or a server (`message` says which): the threads load again. */
  moderated(message: string): void;
}

const KEY = Symbol('comments');

export function setCommentsContext(ctx: CommentsContext): void {
  setContext(KEY, ctx);
}

export function commentsContext(): CommentsContext {
  const ctx = getContext<CommentsContext | undefined>(KEY);
  if (!ctx) throw new Error('a comment is shown outside a comment section');
  return ctx;
}
