// The shapes of PeerTube's REST API that this client reads (PeerTube 6.3 names).

export interface ListResult<T> {
  total: number;
  data: T[];
}

export interface Image {
  path: string;
  fileUrl?: string;
  width: number;
  height?: number;
  createdAt?: string;
  updatedAt?: string;
}

export interface Account {
  id: number;
  name: string;
  displayName: string;
  description: string | null;
  host: string;
  url: string;
  avatars: Image[];
  followersCount: number;
  followingCount: number;
  createdAt: string;
  userId?: number;
}

export interface Channel {
  id: number;
  name: string;
  displayName: string;
  description: string | null;
  support: string | null;
  host: string;
  url: string;
  isLocal: boolean;
  avatars: Image[];
  banners: Image[];
  followersCount: number;
  followingCount: number;
  createdAt: string;
  ownerAccount?: Account;
}

export interface IdLabel<T = number> {
  id: T;
  label: string;
}

export const VideoState = {
  Published: 1,
  ToTranscode: 2,
  ToImport: 3,
  WaitingForLive: 4,
  LiveEnded: 5,
  ToMoveToExternalStorage: 6,
  TranscodingFailed: 7,
} as const;

export const Privacy = {
  Public: 1,
  Unlisted: 2,
  Private: 3,
  Internal: 4,
} as const;

export interface Video {
  id: number;
  uuid: string;
  shortUUID: string;
  name: string;
  duration: number;
  aspectRatio: number | null;
  isLive: boolean;
  isLocal: boolean;
  nsfw: boolean;
  privacy: IdLabel;
  category: IdLabel<number | null>;
  licence: IdLabel<number | null>;
  language: IdLabel<string | null>;
  state?: IdLabel;
  views: number;
  likes: number;
  dislikes: number;
  thumbnailPath: string | null;
  previewPath: string | null;
  embedPath: string;
  url: string;
  publishedAt: string;
  createdAt: string;
  originallyPublishedAt: string | null;
  account: Account;
  channel: Channel;
  description?: string | null;
}

export interface VideoFile {
  id: number;
  resolution: IdLabel;
  size: number;
  fps: number;
  width?: number;
  height?: number;
  fileUrl: string;
  fileDownloadUrl: string;
  playlistUrl?: string;
}

export interface StreamingPlaylist {
  id: number;
  type: number;
  playlistUrl: string;
  segmentsSha256Url: string;
  /**
   * Ours, for a remote video served by this instance's edge cache: the origin's master playlist
   * (`playlistUrl` is then ours). It names the P2P swarm, and is where the player falls back.
   */
  originPlaylistUrl?: string;
  /** One p2p-media-loader info hash per rendition (empty when P2P is off). */
  p2pMediaLoaderInfohashes?: string[];
  /**
   * Other servers' copies of the files (PeerTube's redundancy): each `baseUrl` a directory,
   * without trailing slash, holding the playlist directory's file names.
   */
  redundancies?: { baseUrl: string }[];
  files: VideoFile[];
}

export interface VideoDetails extends Video {
  description: string | null;
  /** Ours: the Markdown description rendered and sanitized by the server. */
  descriptionHtml?: string | null;
  support: string | null;
  tags: string[];
  commentsEnabled?: boolean;
  /** PeerTube 6.2+: 1 enabled, 2 disabled, 3 held for the owner's approval (`CommentsPolicy`). */
  commentsPolicy?: IdLabel;
  downloadEnabled: boolean;
  waitTranscoding: boolean;
  files: VideoFile[];
  streamingPlaylists: StreamingPlaylist[];
  trackerUrls: string[];
  /** Ours, for the owner and moderators: 0–100 while transcoding runs. */
  transcodingProgress?: number | null;
  /** Ours, for the owner and moderators: why transcoding failed. */
  stateError?: string | null;
}

export const CommentsPolicy = {
  Enabled: 1,
  Disabled: 2,
  RequiresApproval: 3,
} as const;

/**
 * A comment (PeerTube's `VideoComment`). `text` is plain text, never HTML. A deleted comment stays
 * as a tombstone: `isDeleted`, empty `text`, `account` null, its replies kept.
 */
export interface VideoComment {
  id: number;
  url: string;
  text: string;
  threadId: number;
  inReplyToCommentId: number | null;
  videoId: number;
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
  /** Shown only to its author, the video's owner and moderators until approved. */
  heldForReview: boolean;
  isDeleted: boolean;
  totalRepliesFromVideoAuthor: number;
  /** On a thread's first comment: every reply in the thread, at any depth. */
  totalReplies: number;
  account: Account | null;
}

export interface CommentThreadList extends ListResult<VideoComment> {
  /** The comments of every thread, replies included, that are not deleted. */
  totalNotDeletedComments: number;
}

/** `GET /videos/:id/comment-threads/:threadId`: a thread's first comment and its replies as a tree. */
export interface CommentTree {
  comment: VideoComment;
  children: CommentTree[];
}

export interface Role {
  id: number;
  label: string;
}

export const UserRole = { Admin: 0, Moderator: 1, User: 2 } as const;

export type NsfwPolicy = 'display' | 'blur' | 'do_not_list';

export interface User {
  id: number;
  username: string;
  email: string;
  role: Role;
  blocked: boolean;
  blockedReason: string | null;
  nsfwPolicy: NsfwPolicy;
  p2pEnabled: boolean;
  autoPlayVideo: boolean;
  videoQuota: number;
  videoQuotaDaily: number;
  account: Account;
  videoChannels?: Channel[];
  createdAt: string;
  lastLoginDate?: string | null;
  videoQuotaUsed?: number;
  /** What to be told of, per kind (PeerTube's keys); only on `GET /users/me`. */
  notificationSettings?: NotificationSettings;
}

/** PeerTube's `UserNotificationType` values this client knows how to say in words. */
export const NotificationType = {
  NewVideoFromSubscription: 1,
  NewCommentOnMyVideo: 2,
  MyVideoPublished: 6,
  NewFollow: 10,
  CommentMention: 11,
} as const;

/** A bit set per kind: 1 shown in the web client, 2 sent by e-mail (3 both, 0 neither). */
export const NotificationSettingValue = { None: 0, Web: 1, Email: 2 } as const;

/** PeerTube's `UserNotificationSetting`: key → 0–3. Servers may add keys; unknown ones are kept. */
export type NotificationSettings = Record<string, number>;

/** An actor as a notification names it (PeerTube's `ActorInfo`). */
export interface NotificationActor {
  id?: number;
  name: string;
  displayName: string;
  host: string;
  avatars?: Image[];
}

export interface NotificationVideo {
  id: number;
  uuid: string;
  shortUUID?: string;
  name: string;
  channel?: NotificationActor;
}

/**
 * One notification (PeerTube's `UserNotification`). Which of `video`, `comment`, `actorFollow`
 * is present depends on `type`; other kinds carry other fields, shown generically.
 */
export interface UserNotification {
  id: number;
  type: number;
  read: boolean;
  createdAt: string;
  updatedAt: string;
  video?: NotificationVideo | null;
  comment?: {
    id: number;
    threadId: number;
    heldForReview?: boolean;
    account: NotificationActor;
    video: NotificationVideo;
  } | null;
  actorFollow?: {
    id: number;
    state: string;
    follower: NotificationActor;
    following: { type: 'channel' | 'account' | string; name: string; displayName: string; host: string };
  } | null;
}

export interface ServerConfig {
  serverVersion: string;
  instance: {
    name: string;
    shortDescription: string;
    defaultNSFWPolicy: NsfwPolicy;
    isNSFW: boolean;
  };
  signup: {
    allowed: boolean;
    allowedForCurrentIP: boolean;
    requiresApproval: boolean;
    minimumAge: number;
  };
  search: { remoteUri: { anonymous: boolean; users: boolean } };
  video: { file: { extensions: string[] }; image: { extensions: string[]; size: { max: number } } };
  avatar: { file: { extensions: string[]; size: { max: number } } };
  banner: { file: { extensions: string[]; size: { max: number } } };
  client?: { videos?: { resumableUpload?: { maxChunkSize?: number } } };
  defaults?: {
    publish?: { privacy?: number; commentsEnabled?: boolean; downloadEnabled?: boolean };
    p2p?: { webapp?: { enabled?: boolean }; embed?: { enabled?: boolean } };
  };
  tracker?: { enabled?: boolean };
  webrtc?: { stunServers?: string[] };
  transcoding: { enabledResolutions: number[] };
  user: { videoQuota: number; videoQuotaDaily: number };
  videoChannels?: { maxPerUser: number };
}

export interface CustomConfig {
  instance: {
    name: string;
    shortDescription: string;
    description: string;
    terms: string;
    isNSFW: boolean;
    defaultNSFWPolicy: NsfwPolicy;
  };
  signup: { enabled: boolean; requiresApproval: boolean; limit?: number; minimumAge?: number };
  user: { videoQuota: number; videoQuotaDaily: number };
  transcoding: { enabled?: boolean; resolutions: Record<string, boolean> };
}

export interface Follow {
  id: number;
  state: 'pending' | 'accepted' | 'rejected' | string;
  score?: number;
  createdAt: string;
  follower: { name: string; host: string; url?: string };
  following: { name: string; host: string; url?: string; hostRedundancyAllowed?: boolean };
}

/** One copy of a video (PeerTube's redundancy list entry). */
export interface VideoRedundancy {
  id: number;
  name: string;
  url: string;
  uuid: string;
  redundancies: {
    streamingPlaylists: { id: number; fileUrl: string; strategy: string | null; createdAt: string; expiresOn: string | null; size: number }[];
  };
}

/** Ours: `GET /server/edge-cache`. */
export interface EdgeCacheStats {
  enabled: boolean;
  capacityBytes: number;
  usedBytes: number;
  files: number;
  servedBytes: number;
  originBytes: number;
  hits: number;
  misses: number;
  hitRatio: number | null;
  evictions: number;
  hashMismatches: number;
  originErrors: number;
}

export type JobState = 'active' | 'completed' | 'failed' | 'waiting' | 'delayed';

export interface Job {
  id: number;
  state: string;
  type: string;
  data: unknown;
  error: string | null;
  progress: number | null;
  attempts?: number;
  createdAt: string;
  processedOn: string | null;
  finishedOn: string | null;
}

export interface Token {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token?: string;
  refresh_token_expires_in?: number;
}
