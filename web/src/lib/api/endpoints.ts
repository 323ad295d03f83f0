// The API calls the pages make, one function each, named after what they do.

import { VIDEO_PASSWORD_HEADER, VIDEO_PASSWORDS_MAX } from '$lib/video-password';
import { api, ApiError, apiText, type Query } from './client';
import type {
  Abuse,
  AbuseCreate,
  AbuseFilter,
  AbuseMessage,
  AbusePredefinedReason,
  AbuseStateId,
  Account,
  AccountBlock,
  AutomaticTag,
  BlocklistImportResult,
  BlockStatus,
  Channel,
  ChannelCollaborator,
  ChannelInvitation,
  CommentThreadList,
  CommentTree,
  CustomConfig,
  Follow,
  Image,
  Job,
  ListResult,
  ModeratedComment,
  NotificationSettings,
  Runner,
  RunnerJob,
  RunnerRegistrationToken,
  ServerBlock,
  ServerConfig,
  TranscodingType,
  TwoFactorRequest,
  User,
  UserExport,
  UserImport,
  UserNotification,
  Video,
  VideoComment,
  VideoBlock,
  VideoCaption,
  VideoChapter,
  VideoDetails,
  VideoImport,
  VideoImportCreate,
  VideoPassword,
  VideoSource,
  VideoStoryboard,
  EdgeCacheStats,
  LiveSession,
  LiveVideo,
  LiveVideoCreate,
  LiveVideoUpdate,
  VideoRedundancy,
  VideoPlaylist,
  VideoPlaylistElement,
  VideosExistInPlaylists,
  WatchedWordsList,
} from './types';

export type VideoSort = '-publishedAt' | '-trending' | '-views' | '-likes' | '-createdAt' | 'name' | '-match';

export interface VideoListQuery extends Query {
  start?: number;
  count?: number;
  sort?: VideoSort;
  isLocal?: boolean;
}

export const getConfig = () => api<ServerConfig>('/config');
export const getLabels = (kind: 'categories' | 'licences' | 'languages' | 'privacies') =>
  api<Record<string, string>>(`/videos/${kind}`);

export const listVideos = (q: VideoListQuery) => api<ListResult<Video>>('/videos', { query: q });
export const listSubscriptionVideos = (q: VideoListQuery) =>
  api<ListResult<Video>>('/users/me/subscriptions/videos', { query: q });
export const listChannelVideos = (handle: string, q: VideoListQuery) =>
  api<ListResult<Video>>(`/video-channels/${encodeURIComponent(handle)}/videos`, { query: q });
export const listAccountVideos = (name: string, q: VideoListQuery) =>
  api<ListResult<Video>>(`/accounts/${encodeURIComponent(name)}/videos`, { query: q });
export const listMyVideos = (q: VideoListQuery) => api<ListResult<Video>>('/users/me/videos', { query: q });
export const searchVideos = (search: string, q: VideoListQuery) =>
  api<ListResult<Video>>('/search/videos', { query: { search, ...q } });
export const searchChannels = (search: string, q: Query) =>
  api<ListResult<Channel>>('/search/video-channels', { query: { search, ...q } });

/** `password`: one the viewer typed for a password-protected video (one they opened before is sent by itself). */
export const getVideo = (id: string, password?: string) =>
  api<VideoDetails>(`/videos/${encodeURIComponent(id)}`, password === undefined ? {} : { headers: { [VIDEO_PASSWORD_HEADER]: password } });
export const deleteVideo = (id: string | number) => api(`/videos/${id}`, { method: 'DELETE' });
/** Imports a video from a URL (a file, or a page yt-dlp reads): the video is made at once, "To import". */
export const importVideo = (body: VideoImportCreate) => api<VideoImport>('/videos/imports', { method: 'POST', json: body });
/** The user's imports, newest first; `targetUrl` keeps those of one URL (as the server stored it). */
export const listMyImports = (q: { start?: number; count?: number; targetUrl?: string }) =>
  api<ListResult<VideoImport>>('/users/me/videos/imports', { query: { sort: '-createdAt', ...q } });
/** A pending or running import stops (409 otherwise); its video waits. */
export const cancelImport = (id: number) => api(`/videos/imports/${id}/cancel`, { method: 'POST' });
/** A failed or cancelled import runs again (409 otherwise). */
export const retryImport = (id: number) => api(`/videos/imports/${id}/retry`, { method: 'POST' });
/** An import that has ended (409 while pending or running); a failed or cancelled one takes its waiting video along. */
export const deleteImport = (id: number) => api(`/videos/imports/${id}`, { method: 'DELETE' });
/** Creates a live (PeerTube's `POST /videos/live`): the video waits for its stream (state 4). */
export const createLive = (body: LiveVideoCreate) =>
  api<{ video: { id: number; uuid: string; shortUUID: string } }>('/videos/live', { method: 'POST', json: body });
/** A live's settings; its owner and administrators also get `rtmpUrl` and `streamKey`. */
export const getLive = (id: string | number) => api<LiveVideo>(`/videos/live/${encodeURIComponent(id)}`);
/** Changes a live's settings while it waits for its stream (400 `live_already_started` after). */
export const updateLive = (id: string | number, body: LiveVideoUpdate) =>
  api(`/videos/live/${encodeURIComponent(id)}`, { method: 'PUT', json: body });
/** The live's streams so far (its owner). */
export const listLiveSessions = (id: string | number) =>
  api<ListResult<LiveSession>>(`/videos/live/${encodeURIComponent(id)}/sessions`);
/** PUT /videos/:id as multipart (PeerTube's form), so a thumbnail can travel with the fields. */
export const updateVideo = (id: string | number, form: FormData) =>
  api(`/videos/${id}`, { method: 'PUT', multipart: form });
/** Every password of a password-protected video (its owner; 400 `video_not_password_protected` for another privacy). */
export async function listVideoPasswords(id: string | number): Promise<VideoPassword[]> {
  const all: VideoPassword[] = [];
  for (;;) {
    const page = await api<ListResult<VideoPassword>>(`/videos/${encodeURIComponent(id)}/passwords`, {
      query: { start: all.length, count: VIDEO_PASSWORDS_MAX },
    });
    all.push(...page.data);
    if (page.data.length === 0 || all.length >= page.total) return all;
  }
}
/** A short-lived token that lets the player fetch the files of a private, internal or password-protected video. */
export const videoFileToken = (id: string | number) =>
  api<{ files: { token: string; expires: string } }>(`/videos/${id}/token`, { method: 'POST' });

/** What was uploaded for the video (its managers). Replacing it is `videoSourceReplace` in `$lib/upload`. */
export const getVideoSource = (id: string | number) => api<VideoSource>(`/videos/${encodeURIComponent(id)}/source`);
/** Moderators: removes the original kept after transcoding (404 when none is kept). */
export const deleteVideoSourceFile = (id: string | number) =>
  api(`/videos/${encodeURIComponent(id)}/source/file`, { method: 'DELETE' });
/**
 * Administrators: removes one kind of a local video's files, its HLS renditions (`hls`) or its web
 * videos (`web-videos`); 400 `last_files` when it is the only kind left, `no_such_files` when there is none.
 */
export const deleteVideoFiles = (id: string | number, kind: 'hls' | 'web-videos') =>
  api(`/videos/${encodeURIComponent(id)}/${kind}`, { method: 'DELETE' });
/**
 * Administrators: makes one kind of files again (`hls`: the ladder from the best file left;
 * `web-video`: from the HLS renditions); 409 while the video is being transcoded, 400
 * `web_videos_disabled` when the instance makes no web videos.
 */
export const createTranscoding = (id: string | number, transcodingType: TranscodingType) =>
  api(`/videos/${encodeURIComponent(id)}/transcoding`, { method: 'POST', json: { transcodingType } });

const captionPath = (id: string | number, language: string) =>
  `/videos/${encodeURIComponent(id)}/captions/${encodeURIComponent(language)}`;
export const listCaptions = (id: string | number) => api<ListResult<VideoCaption>>(`/videos/${encodeURIComponent(id)}/captions`);
/** Adds or replaces the subtitles of one language: PeerTube's multipart `captionfile` (.vtt or .srt). */
export function putCaption(id: string | number, language: string, file: File) {
  const form = new FormData();
  form.append('captionfile', file);
  return api(captionPath(id, language), { method: 'PUT', multipart: form });
}
export const deleteCaption = (id: string | number, language: string) => api(captionPath(id, language), { method: 'DELETE' });

/** The video's chapters, in order (set by hand, or read from its description's timecodes). */
export const listChapters = (id: string | number) => api<{ chapters: VideoChapter[] }>(`/videos/${encodeURIComponent(id)}/chapters`);
/** The video's storyboard sheets (none for a video under 3 s). */
export const listStoryboards = (id: string | number) =>
  api<{ storyboards: VideoStoryboard[] }>(`/videos/${encodeURIComponent(id)}/storyboards`);

export type Rating = 'like' | 'dislike' | 'none';
export const rateVideo = (id: string | number, rating: Rating) =>
  api(`/videos/${id}/rate`, { method: 'PUT', json: { rating } });
export const getMyRating = (id: string | number) =>
  api<{ videoId: number; rating: Rating }>(`/users/me/videos/${id}/rating`);
/** PeerTube's playback metrics body; byte counts are since the previous report. */
export interface PlaybackMetric {
  playerMode: 'p2p-media-loader' | 'web-video';
  resolution?: number;
  fps?: number;
  p2pEnabled: boolean;
  p2pPeers?: number;
  resolutionChanges: number;
  errors: number;
  downloadedBytesP2P: number;
  downloadedBytesHTTP: number;
  uploadedBytesP2P: number;
  videoId: number | string;
}
export const sendPlaybackMetric = (body: PlaybackMetric, keepalive = false) =>
  api('/metrics/playback', { method: 'POST', json: body, keepalive });
/** Counts a view; for a signed-in viewer it also records where they are in the video (their history). */
export const addView = (id: string | number, currentTime: number, keepalive = false) =>
  api(`/videos/${id}/views`, { method: 'POST', json: { currentTime: Math.floor(currentTime) }, keepalive });

/** The signed-in user's watched videos, last watched first, each with `userHistory`. */
export const listHistory = (q: { start: number; count: number; search?: string }) =>
  api<ListResult<Video>>('/users/me/history/videos', { query: q });
export const removeFromHistory = (videoId: number) => api(`/users/me/history/videos/${videoId}`, { method: 'DELETE' });
/** Clears the whole history (PeerTube also takes a `beforeDate`). */
export const clearHistory = () => api('/users/me/history/videos/remove', { method: 'POST', json: {} });

export type PlaylistSort = '-updatedAt' | '-createdAt' | 'displayName';

export interface PlaylistListQuery extends Query {
  start?: number;
  count?: number;
  sort?: PlaylistSort;
  /** 1 regular playlists, 2 the Watch later one. */
  playlistType?: number;
}

/** An account's playlists; its owner also gets the private ones and Watch later. */
export const listAccountPlaylists = (name: string, q: PlaylistListQuery) =>
  api<ListResult<VideoPlaylist>>(`/accounts/${encodeURIComponent(name)}/video-playlists`, { query: q });
export const listChannelPlaylists = (handle: string, q: PlaylistListQuery) =>
  api<ListResult<VideoPlaylist>>(`/video-channels/${encodeURIComponent(handle)}/video-playlists`, { query: q });
/** By id, uuid or shortUUID. */
export const getPlaylist = (id: string | number) => api<VideoPlaylist>(`/video-playlists/${encodeURIComponent(id)}`);
/** Multipart: displayName, description, privacy, videoChannelId (needed for a public one), thumbnailfile. */
export const createPlaylist = (form: FormData) =>
  api<{ videoPlaylist: { id: number; uuid: string; shortUUID: string } }>('/video-playlists', { method: 'POST', multipart: form });
export const updatePlaylist = (id: string | number, form: FormData) =>
  api(`/video-playlists/${encodeURIComponent(id)}`, { method: 'PUT', multipart: form });
export const deletePlaylist = (id: string | number) => api(`/video-playlists/${encodeURIComponent(id)}`, { method: 'DELETE' });
export const listPlaylistElements = (id: string | number, q: { start: number; count: number }) =>
  api<ListResult<VideoPlaylistElement>>(`/video-playlists/${encodeURIComponent(id)}/videos`, { query: q });

/** Every element of a playlist, in order (pages of 100, PeerTube's most). */
export async function listAllPlaylistElements(id: string | number): Promise<VideoPlaylistElement[]> {
  const all: VideoPlaylistElement[] = [];
  for (;;) {
    const page = await listPlaylistElements(id, { start: all.length, count: 100 });
    all.push(...page.data);
    if (page.data.length === 0 || all.length >= page.total) return all.sort((a, b) => a.position - b.position);
  }
}

export interface PlaylistPart {
  startTimestamp?: number | null;
  stopTimestamp?: number | null;
}
export const addToPlaylist = (playlistId: number, videoId: number, part: PlaylistPart = {}) =>
  api<{ videoPlaylistElement: { id: number } }>(`/video-playlists/${playlistId}/videos`, { method: 'POST', json: { videoId, ...part } });
export const updatePlaylistElement = (playlistId: number, elementId: number, part: PlaylistPart) =>
  api(`/video-playlists/${playlistId}/videos/${elementId}`, { method: 'PUT', json: part });
export const removeFromPlaylist = (playlistId: number, elementId: number) =>
  api(`/video-playlists/${playlistId}/videos/${elementId}`, { method: 'DELETE' });
/**
 * Moves `reorderLength` elements from `startPosition` to just after `insertAfterPosition` (0: to the
 * top); positions are 1-based and counted before the move.
 */
export const reorderPlaylist = (playlistId: number, body: { startPosition: number; insertAfterPosition: number; reorderLength?: number }) =>
  api(`/video-playlists/${playlistId}/videos/reorder`, { method: 'POST', json: { reorderLength: 1, ...body } });
export const playlistsHoldingVideos = (videoIds: number[]) =>
  api<VideosExistInPlaylists>('/users/me/video-playlists/videos-exist', { query: { videoIds: videoIds.map(String) } });

/** The secret of the user's private feeds (the subscriptions feed); renewing it revokes the old one. */
export const getFeedToken = () => api<{ feedToken: string }>('/users/me/feed-token');
export const renewFeedToken = () => api<{ feedToken: string }>('/users/me/feed-token', { method: 'POST' });

export type CommentSort = '-createdAt' | '-totalReplies';
export const listCommentThreads = (videoId: string | number, q: { start: number; count: number; sort: CommentSort }) =>
  api<CommentThreadList>(`/videos/${videoId}/comment-threads`, { query: q });
export const getCommentThread = (videoId: string | number, threadId: number) =>
  api<CommentTree>(`/videos/${videoId}/comment-threads/${threadId}`);
export const addCommentThread = (videoId: string | number, text: string) =>
  api<{ comment: VideoComment }>(`/videos/${videoId}/comment-threads`, { method: 'POST', json: { text } });
export const addCommentReply = (videoId: string | number, commentId: number, text: string) =>
  api<{ comment: VideoComment }>(`/videos/${videoId}/comments/${commentId}`, { method: 'POST', json: { text } });
/** Leaves a tombstone: the replies stay. */
export const deleteComment = (videoId: string | number, commentId: number) =>
  api(`/videos/${videoId}/comments/${commentId}`, { method: 'DELETE' });
export const approveComment = (videoId: string | number, commentId: number) =>
  api(`/videos/${videoId}/comments/${commentId}/approve`, { method: 'POST' });

/** PeerTube's `sort` of the moderation lists of comments. */
export type ModeratedCommentSort = '-createdAt' | 'createdAt';

export interface AdminCommentListQuery extends Query {
  start?: number;
  count?: number;
  sort?: ModeratedCommentSort;
  /** Words of the text. */
  search?: string;
  /** Part of the author's name or handle. */
  searchAccount?: string;
  /** Part of the video's name. */
  searchVideo?: string;
  /** Comments made on this instance (true) or received from others (false). */
  isLocal?: boolean;
  /** Comments on this instance's videos (true) or on other servers' (false). */
  onLocalVideo?: boolean;
  /** Comments with any of these tags (the instance's). */
  autoTagOneOf?: string[];
}
/** Every comment of the instance that is not deleted (moderators), with the instance's tags. */
export const listAdminComments = (q: AdminCommentListQuery) => api<ListResult<ModeratedComment>>('/videos/comments', { query: q });

export interface MyVideosCommentListQuery extends Query {
  start?: number;
  count?: number;
  /** Only the comments held for the owner's review (`false` is sent as nothing). */
  isHeldForReview?: boolean;
}
/** The comments on the signed-in user's videos, newest first, with the user's tags. */
export const listCommentsOnMyVideos = (q: MyVideosCommentListQuery) =>
  api<ListResult<ModeratedComment>>('/users/me/videos/comments', {
    query: { ...q, isHeldForReview: q.isHeldForReview ? true : undefined },
  });

/** Where a bulk removal reaches: the caller's videos, or the whole instance (moderators). */
export type BulkScope = 'my-videos' | 'instance';
/** Deletes every comment of `accountName` (`name` or `name@host`) within `scope`. */
export const removeCommentsOf = (accountName: string, scope: BulkScope) =>
  api('/bulk/remove-comments-of', { method: 'POST', json: { accountName, scope } });

/** Whose watched words and tags: an account's (by its name; its owner or a moderator) or the instance's (moderators). */
export type TagScope = { account: string } | 'server';
const watchedWords = (scope: TagScope) =>
  scope === 'server' ? '/watched-words/server/lists' : `/watched-words/accounts/${encodeURIComponent(scope.account)}/lists`;

export const listWatchedWords = (scope: TagScope) => api<ListResult<WatchedWordsList>>(watchedWords(scope));
export const createWatchedWords = (scope: TagScope, body: { listName: string; words: string[] }) =>
  api<{ watchedWordsList: { id: number } }>(watchedWords(scope), { method: 'POST', json: body });
export const updateWatchedWords = (scope: TagScope, id: number, body: { listName: string; words: string[] }) =>
  api(`${watchedWords(scope)}/${id}`, { method: 'PUT', json: body });
export const deleteWatchedWords = (scope: TagScope, id: number) => api(`${watchedWords(scope)}/${id}`, { method: 'DELETE' });

/** The tags a scope's comments can get: `external-link` and its lists' names. */
export const listAvailableTags = (scope: TagScope) =>
  api<{ available: AutomaticTag[] }>(
    scope === 'server' ? '/automatic-tags/server/available' : `/automatic-tags/accounts/${encodeURIComponent(scope.account)}/available`,
  );
/** The tags that hold a comment on the account's videos for its owner's review. */
export const getCommentPolicy = (account: string) =>
  api<{ review: string[] }>(`/automatic-tags/policies/accounts/${encodeURIComponent(account)}/comments`);
export const setCommentPolicy = (account: string, review: string[]) =>
  api(`/automatic-tags/policies/accounts/${encodeURIComponent(account)}/comments`, { method: 'PUT', json: { review } });

export const getChannel = (handle: string) => api<Channel>(`/video-channels/${encodeURIComponent(handle)}`);
export const createChannel = (body: { name: string; displayName: string; description?: string; support?: string }) =>
  api<{ videoChannel: { id: number } }>('/video-channels', { method: 'POST', json: body });
export const updateChannel = (handle: string, body: { displayName?: string; description?: string | null; support?: string | null }) =>
  api(`/video-channels/${encodeURIComponent(handle)}`, { method: 'PUT', json: body });
export const deleteChannel = (handle: string) => api(`/video-channels/${encodeURIComponent(handle)}`, { method: 'DELETE' });
export function pickChannelImage(handle: string, kind: 'avatar' | 'banner', file: File) {
  const form = new FormData();
  form.append(`${kind}file`, file);
  return api<{ avatars?: Image[]; banners?: Image[] }>(`/video-channels/${encodeURIComponent(handle)}/${kind}/pick`, {
    method: 'POST',
    multipart: form,
  });
}
export const deleteChannelImage = (handle: string, kind: 'avatar' | 'banner') =>
  api(`/video-channels/${encodeURIComponent(handle)}/${kind}`, { method: 'DELETE' });

const collaborators = (handle: string) => `/video-channels/${encodeURIComponent(handle)}/collaborators`;
/** The owner and the collaborators may read it. */
export const listCollaborators = (handle: string) => api<ListResult<ChannelCollaborator>>(collaborators(handle), { query: { count: 100 } });
/** Owner only; a local user's name. */
export const inviteCollaborator = (handle: string, accountHandle: string) =>
  api<{ collaborator: { id: number } }>(`${collaborators(handle)}/invite`, { method: 'POST', json: { accountHandle } });
export const acceptCollaboration = (handle: string, id: number) => api(`${collaborators(handle)}/${id}/accept`, { method: 'POST' });
export const rejectCollaboration = (handle: string, id: number) => api(`${collaborators(handle)}/${id}/reject`, { method: 'POST' });
/** The owner removes a collaborator, or a collaborator leaves. */
export const removeCollaborator = (handle: string, id: number) => api(`${collaborators(handle)}/${id}`, { method: 'DELETE' });
/** The channels the user collaborates on (accepted), not their own. */
export const listMyCollaborations = () =>
  api<ListResult<Channel>>('/users/me/video-channels/collaborations', { query: { count: 100 } });
export const listMyInvitations = () =>
  api<ListResult<ChannelInvitation>>('/users/me/video-channels/invitations', { query: { count: 100 } });

// Moving house (ActivityPub `Move`): the new account or channel lists the old one among its
// aliases first, then the old one moves; its followers then follow the new address by themselves.
/** `null`: the signed-in user's account; otherwise a channel's handle. */
const aliasesPath = (channel: string | null) => (channel ? `/video-channels/${encodeURIComponent(channel)}/aliases` : '/users/me/aliases');
export const getAliases = (channel: string | null) => api<{ aliases: string[] }>(aliasesPath(channel));
/** At most 5, each `name@host` or an actor URL; answers the resolved URLs (400 for one that cannot be resolved). */
export const setAliases = (channel: string | null, aliases: string[]) =>
  api<{ aliases: string[] }>(aliasesPath(channel), { method: 'PUT', json: { aliases } });
/** The user's account moves to `target` (which lists it among its aliases); asks the password. */
export const moveMe = (target: string, currentPassword: string) =>
  api<{ movedTo: string }>('/users/me/move', { method: 'POST', json: { target, currentPassword } });
/** The owner moves a channel to `target` (which lists it among its aliases). */
export const moveChannel = (handle: string, target: string) =>
  api<{ movedTo: string }>(`/video-channels/${encodeURIComponent(handle)}/move`, { method: 'POST', json: { target } });

export const getAccount = (name: string) => api<Account>(`/accounts/${encodeURIComponent(name)}`);
export const listAccountChannels = (name: string) =>
  api<ListResult<Channel>>(`/accounts/${encodeURIComponent(name)}/video-channels`, { query: { count: 100 } });

export const subscriptionsExist = (handles: string[]) =>
  api<Record<string, boolean>>('/users/me/subscriptions/exist', { query: { uris: handles.join(',') } });
export const subscribe = (handle: string) => api('/users/me/subscriptions', { method: 'POST', json: { uri: handle } });
export const unsubscribe = (handle: string) =>
  api(`/users/me/subscriptions/${encodeURIComponent(handle)}`, { method: 'DELETE' });
export const listSubscriptions = (q: Query) => api<ListResult<Channel>>('/users/me/subscriptions', { query: q });

export const register = (body: Record<string, unknown>) => api<unknown>('/users/register', { method: 'POST', json: body });
/** Answers 204 whether or not an account has this address; the mail links to `/reset-password`. */
export const askResetPassword = (email: string) => api('/users/ask-reset-password', { method: 'POST', json: { email } });
export const resetPassword = (userId: number, verificationString: string, password: string) =>
  api(`/users/${userId}/reset-password`, { method: 'POST', json: { verificationString, password } });
/** Follows the link of a verification e-mail; `isPendingEmail` for a change of address. */
export const verifyEmail = (userId: number, verificationString: string, isPendingEmail: boolean) =>
  api(`/users/${userId}/verify-email`, { method: 'POST', json: isPendingEmail ? { verificationString, isPendingEmail } : { verificationString } });
export const askSendVerifyEmail = (email: string) => api('/users/ask-send-verify-email', { method: 'POST', json: { email } });
export const updateMe = (body: Record<string, unknown>) => api('/users/me', { method: 'PUT', json: body });
export const quotaUsed = () => api<{ videoQuotaUsed: number; videoQuotaUsedDaily: number }>('/users/me/video-quota-used');
export function pickMyAvatar(file: File) {
  const form = new FormData();
  form.append('avatarfile', file);
  return api<{ avatars: Image[] }>('/users/me/avatar/pick', { method: 'POST', multipart: form });
}
export const deleteMyAvatar = () => api('/users/me/avatar', { method: 'DELETE' });

export interface NotificationListQuery extends Query {
  start?: number;
  count?: number;
  sort?: '-createdAt' | 'createdAt';
  /** Only the unread ones (the server reads `unread=true`; false is sent as nothing). */
  unread?: boolean;
}
export const listNotifications = (q: NotificationListQuery) =>
  api<ListResult<UserNotification>>('/users/me/notifications', { query: { ...q, unread: q.unread ? true : undefined } });
export const markNotificationsRead = (ids: number[]) =>
  api('/users/me/notifications/read', { method: 'POST', json: { ids } });
export const markAllNotificationsRead = () => api('/users/me/notifications/read-all', { method: 'POST' });
/** Any subset of the keys; each value 0–3 (see `NotificationSettingValue`). */
export const updateNotificationSettings = (settings: NotificationSettings) =>
  api('/users/me/notification-settings', { method: 'PUT', json: settings });

export const listUsers = (q: Query) => api<ListResult<User>>('/users', { query: q });
export const addUser = (body: Record<string, unknown>) =>
  api<{ user: { id: number } }>('/users', { method: 'POST', json: body });
export const updateUser = (id: number, body: Record<string, unknown>) => api(`/users/${id}`, { method: 'PUT', json: body });
export const blockUser = (id: number, reason?: string) =>
  api(`/users/${id}/block`, { method: 'POST', json: reason ? { reason } : {} });
export const unblockUser = (id: number) => api(`/users/${id}/unblock`, { method: 'POST' });

/** Starts turning two-factor on: a new secret, valid once confirmed with a code of it. */
export const requestTwoFactor = (userId: number, currentPassword: string) =>
  api<TwoFactorRequest>(`/users/${userId}/two-factor/request`, { method: 'POST', json: { currentPassword } });
export const confirmTwoFactor = (userId: number, requestToken: string, otpToken: string) =>
  api(`/users/${userId}/two-factor/confirm-request`, { method: 'POST', json: { requestToken, otpToken } });
/** The user's own password, or an administrator's own for another user (recovery). */
export const disableTwoFactor = (userId: number, currentPassword: string) =>
  api(`/users/${userId}/two-factor/disable`, { method: 'POST', json: { currentPassword } });

/** Asks for an archive of the user's data (PeerTube 6.1); a job builds it. One at a time: 409 while one is built. */
export const requestExport = (userId: number, withVideoFiles: boolean) =>
  api<{ export: { id: number } }>(`/users/${userId}/exports/request`, { method: 'POST', json: { withVideoFiles } });
export const listExports = (userId: number) => api<ListResult<UserExport>>(`/users/${userId}/exports`);
export const deleteExport = (userId: number, exportId: number) =>
  api(`/users/${userId}/exports/${exportId}`, { method: 'DELETE' });
/** The latest archive imported into the account, or null when none ever was (404). The upload itself is `userImportUpload` in `$lib/upload`. */
export async function getLatestImport(userId: number): Promise<UserImport | null> {
  try {
    return await api<UserImport>(`/users/${userId}/imports/latest`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

export const getCustomConfig = () => api<CustomConfig>('/config/custom');
export const putCustomConfig = (c: CustomConfig) => api<unknown>('/config/custom', { method: 'PUT', json: c });

export const listFollowing = (q: Query) => api<ListResult<Follow>>('/server/following', { query: q });
export const listFollowers = (q: Query) => api<ListResult<Follow>>('/server/followers', { query: q });
export const followHosts = (hosts: string[], handles: string[]) =>
  api('/server/following', { method: 'POST', json: { hosts, handles } });
export const unfollowHost = (host: string) => api(`/server/following/${encodeURIComponent(host)}`, { method: 'DELETE' });
export const acceptFollower = (handle: string) =>
  api(`/server/followers/${encodeURIComponent(handle)}/accept`, { method: 'POST' });
export const rejectFollower = (handle: string) =>
  api(`/server/followers/${encodeURIComponent(handle)}/reject`, { method: 'POST' });
export const allowMirroring = (host: string, allowed: boolean) =>
  api(`/server/redundancy/${encodeURIComponent(host)}`, { method: 'PUT', json: { redundancyAllowed: allowed } });
export const listRedundancies = (target: 'my-videos' | 'remote-videos', q: Query) =>
  api<ListResult<VideoRedundancy>>('/server/redundancy/videos', { query: { ...q, target } });
export const removeRedundancy = (id: number) => api(`/server/redundancy/videos/${id}`, { method: 'DELETE' });
export const getEdgeCache = () => api<EdgeCacheStats>('/server/edge-cache');

export interface Registration {
  id: number;
  state: { id: number; label: string };
  registrationReason: string;
  moderationResponse: string | null;
  username: string;
  email: string;
  accountDisplayName: string;
  createdAt: string;
}

export const listRegistrations = (q: Query) => api<ListResult<Registration>>('/users/registrations', { query: q });
export const acceptRegistration = (id: number, moderationResponse: string) =>
  api(`/users/registrations/${id}/accept`, { method: 'POST', json: { moderationResponse } });
export const rejectRegistration = (id: number, moderationResponse: string) =>
  api(`/users/registrations/${id}/reject`, { method: 'POST', json: { moderationResponse } });

/**
 * Who mutes: the signed-in user (`/users/me/blocklist`, hides for them only) or the instance
 * (`/server/blocklist`, moderators: hides for everyone).
 */
export type BlockScope = 'user' | 'instance';
const blocklist = (scope: BlockScope) => (scope === 'user' ? '/users/me/blocklist' : '/server/blocklist');

export const listBlockedAccounts = (scope: BlockScope, q: Query) =>
  api<ListResult<AccountBlock>>(`${blocklist(scope)}/accounts`, { query: q });
/** `accountName`: `name` (local) or `name@host`. */
export const blockAccount = (scope: BlockScope, accountName: string) =>
  api(`${blocklist(scope)}/accounts`, { method: 'POST', json: { accountName } });
export const unblockAccount = (scope: BlockScope, accountName: string) =>
  api(`${blocklist(scope)}/accounts/${encodeURIComponent(accountName)}`, { method: 'DELETE' });
export const listBlockedServers = (scope: BlockScope, q: Query) =>
  api<ListResult<ServerBlock>>(`${blocklist(scope)}/servers`, { query: q });
export const blockServer = (scope: BlockScope, host: string) =>
  api(`${blocklist(scope)}/servers`, { method: 'POST', json: { host } });
export const unblockServer = (scope: BlockScope, host: string) =>
  api(`${blocklist(scope)}/servers/${encodeURIComponent(host)}`, { method: 'DELETE' });
/** Ours: the instance's muted servers as Mastodon's `domain_blocks.csv`. */
export const exportServerBlocklist = () => apiText('/server/blocklist/servers/export', { headers: { Accept: 'text/csv' } });
/** Ours: a Mastodon `domain_blocks.csv` (at most 1 MB) sent as it is; its suspended domains are muted. */
export const importServerBlocklist = (csv: string) =>
  api<BlocklistImportResult>('/server/blocklist/servers/import', { method: 'POST', raw: { body: csv, type: 'text/csv' } });
/** Whether the viewer and the instance mute these accounts (`name@host`) and hosts. */
export const blocklistStatus = (accounts: string[], hosts: string[]) =>
  api<BlockStatus>('/blocklist/status', { query: { accounts, hosts } });

/** Reports ("abuses"): made by any signed-in user, handled by moderators. */
export const reportAbuse = (body: AbuseCreate) => api<{ abuse: { id: number } }>('/abuses', { method: 'POST', json: body });

export type AbuseSort = '-createdAt' | 'createdAt' | 'state' | '-state';

export interface AbuseListQuery extends Query {
  start?: number;
  count?: number;
  sort?: AbuseSort;
  state?: AbuseStateId;
  search?: string;
}

export interface AdminAbuseListQuery extends AbuseListQuery {
  filter?: AbuseFilter;
  predefinedReason?: AbusePredefinedReason;
}

/** Every report (moderators). */
export const listAbuses = (q: AdminAbuseListQuery) => api<ListResult<Abuse>>('/abuses', { query: q });
/** The signed-in user's own reports. */
export const listMyAbuses = (q: AbuseListQuery) => api<ListResult<Abuse>>('/users/me/abuses', { query: q });
export const updateAbuse = (id: number, body: { state?: AbuseStateId; moderationComment?: string }) =>
  api(`/abuses/${id}`, { method: 'PUT', json: body });
export const deleteAbuse = (id: number) => api(`/abuses/${id}`, { method: 'DELETE' });
export const listAbuseMessages = (id: number) => api<ListResult<AbuseMessage>>(`/abuses/${id}/messages`);
export const addAbuseMessage = (id: number, message: string) =>
  api(`/abuses/${id}/messages`, { method: 'POST', json: { message } });
export const deleteAbuseMessage = (id: number, messageId: number) =>
  api(`/abuses/${id}/messages/${messageId}`, { method: 'DELETE' });

/** Blocking a video (PeerTube's "blacklist", moderators): hidden from everyone but its owner and moderators. */
export const blockVideo = (id: number | string, body: { reason?: string; unfederate?: boolean }) =>
  api(`/videos/${id}/blacklist`, { method: 'POST', json: body });
export const updateVideoBlock = (id: number | string, reason: string) =>
  api(`/videos/${id}/blacklist`, { method: 'PUT', json: { reason } });
export const unblockVideo = (id: number | string) => api(`/videos/${id}/blacklist`, { method: 'DELETE' });

export interface VideoBlockListQuery extends Query {
  start?: number;
  count?: number;
  sort?: '-createdAt' | 'createdAt';
  /** 1 blocked by a moderator, 2 held automatically. */
  type?: number;
  search?: string;
}
export const listVideoBlocks = (q: VideoBlockListQuery) => api<ListResult<VideoBlock>>('/videos/blacklist', { query: q });

export const listJobs = (state: string, q: Query) => api<ListResult<Job>>(`/jobs/${state}`, { query: q });
export const retryJob = (id: number) => api(`/jobs/${id}/retry`, { method: 'POST' });

// Remote runners (PeerTube 6.3's runner admin API, administrators): registration tokens, the
// runners registered with them, and the jobs offered to runners.
export const listRunnerRegistrationTokens = (q: { start?: number; count?: number }) =>
  api<ListResult<RunnerRegistrationToken>>('/runners/registration-tokens', { query: q });
export const generateRunnerRegistrationToken = () => api('/runners/registration-tokens/generate', { method: 'POST' });
/** The runners registered with it go too; the jobs they were processing go back to pending. */
export const deleteRunnerRegistrationToken = (id: number) => api(`/runners/registration-tokens/${id}`, { method: 'DELETE' });
export const listRunners = (q: { start?: number; count?: number }) => api<ListResult<Runner>>('/runners', { query: q });
export const deleteRunner = (id: number) => api(`/runners/${id}`, { method: 'DELETE' });
export const listRunnerJobs = (q: { start?: number; count?: number; search?: string; stateOneOf?: number[] }) =>
  api<ListResult<RunnerJob>>('/runners/jobs', { query: { ...q, stateOneOf: q.stateOneOf?.map(String) } });
/** A pending or processing job is cancelled. */
export const cancelRunnerJob = (uuid: string) => api(`/runners/jobs/${encodeURIComponent(uuid)}/cancel`, { method: 'POST' });
export const deleteRunnerJob = (uuid: string) => api(`/runners/jobs/${encodeURIComponent(uuid)}`, { method: 'DELETE' });

/** `name` for a local actor, `name@host` for a remote one (the form PeerTube's URLs use). */
export function handleOf(actor: { name: string; host: string; isLocal?: boolean }): string {
  const local = actor.isLocal ?? actor.host === location.host;
  return local ? actor.name : `${actor.name}@${actor.host}`;
}

/** Always `name@host`: the form the subscription endpoints take. */
export function fullHandle(actor: { name: string; host: string }): string {
  return `${actor.name}@${actor.host}`;
}

/** The URL of the image closest to `width` pixels wide (the smallest one at least that wide). */
export function imageUrl(images: Image[] | undefined, width: number): string | null {
  if (!images || images.length === 0) return null;
  const sorted = [...images].sort((a, b) => a.width - b.width);
  const pick = sorted.find((i) => i.width >= width) ?? sorted[sorted.length - 1];
  return pick ? (pick.fileUrl ?? pick.path) : null;
}
