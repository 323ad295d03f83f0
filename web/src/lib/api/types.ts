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

/** A channel's collaborator (ours, after PeerTube 7's): invited by the owner, pending until they accept. */
export interface ChannelCollaborator {
  id: number;
  account: Account;
  state: { id: number; label: string };
  createdAt: string;
}

export const CollaboratorState = { Pending: 1, Accepted: 2 } as const;

/** An invitation to collaborate on a channel, as the invited user sees it. */
export interface ChannelInvitation {
  id: number;
  channel: Channel;
  invitedBy?: Account;
  createdAt?: string;
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
  /** PeerTube 6.0: anyone with the link and one of its passwords; not listed, not federated. */
  PasswordProtected: 5,
} as const;

/** One password of a password-protected video (`GET /videos/:id/passwords`, its owner only). */
export interface VideoPassword {
  id: number;
  password: string;
  videoId: number;
}

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
  /** PeerTube 7: what makes it sensitive, a bit set of `NsfwFlag` (0 when not sensitive). */
  nsfwFlags?: number;
  /** PeerTube 7: a few words on what is sensitive in it (at most 250 characters). */
  nsfwSummary?: string | null;
  privacy: IdLabel;
  category: IdLabel<number | null>;
  licence: IdLabel<number | null>;
  language: IdLabel<string | null>;
  state?: IdLabel;
  views: number;
  /** Who watches now: a live's audience (viewers that reported within the last minute, on this instance). */
  viewers?: number;
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
  /** Blocked by the moderators ("blacklisted"): listed to its owner and moderators only. */
  blacklisted?: boolean;
  /** For the signed-in viewer, when they watched it: where they stopped, in seconds. */
  userHistory?: { currentTime: number } | null;
}

export interface VideoFile {
  id: number;
  resolution: IdLabel;
  size: number;
  fps: number;
  width?: number;
  height?: number;
  fileUrl: string;
  /** The file as an attachment; 403 when downloads are off and the caller does not manage the video. */
  fileDownloadUrl: string;
  playlistUrl?: string;
  torrentUrl?: string | null;
  torrentDownloadUrl?: string | null;
  magnetUri?: string | null;
  metadataUrl?: string;
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
  /** Why the moderators blocked it; shown to its owner and moderators only. */
  blacklistedReason?: string | null;
}

/**
 * What was uploaded for a video (PeerTube's `VideoSource`, `GET /videos/:id/source`, for those who
 * manage it): the file's name, size and picture, and a link to it while the server has it.
 */
export interface VideoSource {
  /** The name of the file as it was uploaded (PeerTube 6.0+). */
  inputFilename: string | null;
  /** The same, under PeerTube 5's name. */
  filename?: string | null;
  /**
   * The uploaded file itself (`/download/original-video-files/:uuid`), while the server has it:
   * during transcoding, or kept after it (`[transcoding] keep_original`); else null. It needs the
   * bearer token or a `videoFileToken`.
   */
  fileDownloadUrl: string | null;
  resolution: IdLabel;
  size: number | null;
  fps: number | null;
  width: number | null;
  height: number | null;
  createdAt: string;
}

/** `POST /videos/:id/transcoding`'s `transcodingType`: the HLS ladder, or the plain MP4s. */
export type TranscodingType = 'hls' | 'web-video';

/** PeerTube's `VideoImportState` (4, "Rejected", is never given by this server). */
export const VideoImportState = {
  Pending: 1,
  Success: 2,
  Failed: 3,
  Rejected: 4,
  Cancelled: 5,
  Processing: 6,
} as const;

/** An import of a video by URL (`POST /videos/imports`, `GET /users/me/videos/imports`). */
export interface VideoImport {
  id: number;
  targetUrl: string;
  /** Always null here: torrents and magnet links are refused. */
  magnetUri: string | null;
  torrentName: string | null;
  state: IdLabel;
  /** Why it failed, as the server words it. */
  error: string | null;
  createdAt: string;
  updatedAt: string;
  /** Ours, while it downloads (updated every 2 s or so): bytes so far, and in all when known. */
  downloadedBytes?: number | null;
  totalBytes?: number | null;
  /** The video it makes ("To import" until downloaded); null once deleted. */
  video: Video | null;
}

/** A live's latency (`latencyMode`): how far behind the stream viewers play, PeerTube's values. */
export const LiveLatencyMode = {
  Default: 1,
  High: 2,
  Small: 3,
} as const;

/** `GET /videos/live/:id`: anyone sees the settings; the owner and administrators also the ingest address and key. */
export interface LiveVideo {
  saveReplay: boolean;
  permanentLive: boolean;
  latencyMode: number;
  replaySettings?: { privacy: number } | null;
  rtmpUrl?: string | null;
  rtmpsUrl?: string | null;
  streamKey?: string | null;
}

/** The body of `POST /videos/live` this client sends (the rest of the metadata is set on the edit page). */
export interface LiveVideoCreate {
  channelId: number;
  name: string;
  privacy: number;
  permanentLive: boolean;
  latencyMode?: number;
  saveReplay?: boolean;
  replaySettings?: { privacy: number };
  videoPasswords?: string[];
}

/** `PUT /videos/live/:id`, only while the live waits for its stream. */
export interface LiveVideoUpdate {
  permanentLive?: boolean;
  latencyMode?: number;
  saveReplay?: boolean;
  replaySettings?: { privacy: number };
}

/** Why a live session stopped (`LiveVideoSession.error`): PeerTube's codes, and ours above 100. */
export const LiveSessionError = {
  BadSocketHealth: 1,
  DurationExceeded: 2,
  QuotaExceeded: 3,
  FfmpegError: 4,
  Blacklisted: 5,
  RunnerJobError: 6,
  RunnerJobCancel: 7,
  /** Ours: the stream's bitrate went over the instance's limit. */
  BitrateExceeded: 101,
} as const;

/** One stream of a live, from its start to its end (`GET /videos/live/:id/sessions`, its owner). */
export interface LiveSession {
  id: number;
  startDate: string;
  /** Null while it streams. */
  endDate: string | null;
  error: number | null;
  saveReplay: boolean;
  endingProcessed: boolean;
  replaySettings?: { privacy: number } | null;
  replayVideo?: { id: number; uuid: string; shortUUID: string } | null;
}

/** The body of `POST /videos/imports` this client sends (PeerTube's; the rest of the metadata is set in the details form). */
export interface VideoImportCreate {
  targetUrl: string;
  channelId: number;
  privacy: number;
  videoPasswords?: string[];
}

/** PeerTube 7's `VideoNSFWFlag`: the bits of `nsfwFlags`. */
export const NsfwFlag = { Violence: 1, ExplicitSex: 2 } as const;
/** The most characters of an `nsfwSummary`. */
export const NSFW_SUMMARY_MAX = 250;

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

/**
 * A comment as the moderation lists give it (PeerTube's `VideoCommentForAdminOrUser`): with its
 * video and its automatic tags (the video owner's on `/users/me/videos/comments`, the instance's
 * on `/videos/comments`).
 */
export interface ModeratedComment extends VideoComment {
  video: { id: number; uuid: string; name: string };
  automaticTags: string[];
}

/** A list of watched words (PeerTube's `WatchedWordsList`): a comment with one of them gets `listName` as a tag. */
export interface WatchedWordsList {
  id: number;
  listName: string;
  words: string[];
  createdAt: string;
  updatedAt: string;
}

/** The bounds of a list of watched words. */
export const WATCHED_WORDS = { maxName: 100, maxWords: 500, maxWord: 100 } as const;

/** A tag the automatic tagging can give: the core `external-link`, or a list's name. */
export interface AutomaticTag {
  name: string;
  type: 'core' | 'watched-words-list';
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
  /** Whether the videos watched are recorded in the history (PeerTube's pause switch). */
  videosHistoryEnabled?: boolean;
  /** Play the next video of a playlist when one ends. */
  autoPlayNextVideoPlaylist?: boolean;
  /** What to be told of, per kind (PeerTube's keys); only on `GET /users/me`. */
  notificationSettings?: NotificationSettings;
  /** Logging in also asks for a code of an authenticator app (TOTP). */
  twoFactorEnabled?: boolean;
  /** Whether the user followed the link of the verification e-mail. */
  emailVerified?: boolean | null;
  /** A new address waiting for its verification link to be followed (e-mail changes). */
  pendingEmail?: string | null;
}

/** The state of a user archive, an export or an import (PeerTube's `UserExportState`/`UserImportState`). */
export const ArchiveState = {
  Pending: 1,
  Processing: 2,
  Completed: 3,
  Errored: 4,
} as const;

/** An archive of a user's data (`GET /users/:id/exports`). */
export interface UserExport {
  id: number;
  state: { id: number; label: string };
  /** Bytes, once built. */
  size: number | null;
  withVideoFiles: boolean;
  /** Absolute; downloads the zip without a token (its random name is the secret). Only when completed. */
  privateDownloadUrl: string | null;
  fileUrl?: string | null;
  error: string | null;
  createdAt: string;
  expiresOn: string | null;
}

/** What an import did with one part of the archive. */
export interface ImportStats {
  success: number;
  duplicates: number;
  errors: number;
}

/** The latest archive imported into a user's account (`GET /users/:id/imports/latest`). */
export interface UserImport {
  id: number;
  state: { id: number; label: string };
  error: string | null;
  /** Per part (`account`, `channels`, `videos`…), once done. */
  resultSummary: { stats: Record<string, ImportStats> } | null;
  createdAt: string;
}

/** PeerTube's answer to `POST /users/:id/two-factor/request`: the secret to give an authenticator app. */
export interface TwoFactorRequest {
  otpRequest: {
    /** Sent back with the first code to turn two-factor on. */
    requestToken: string;
    /** Base32, for apps where one types it. */
    secret: string;
    /** `otpauth://totp/…`, what the QR code holds. */
    uri: string;
  };
}

/** PeerTube's `UserNotificationType` values this client knows how to say in words. */
export const NotificationType = {
  NewVideoFromSubscription: 1,
  NewCommentOnMyVideo: 2,
  NewAbuseForModerators: 3,
  BlacklistOnMyVideo: 4,
  UnblacklistOnMyVideo: 5,
  MyVideoPublished: 6,
  NewFollow: 10,
  CommentMention: 11,
  VideoAutoBlacklistForModerators: 12,
  AbuseStateChange: 15,
  AbuseNewMessage: 16,
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
  /** Types 3, 15, 16: the report, and what it is about (one of `video`, `comment`, `account`). */
  abuse?: {
    id: number;
    /** PeerTube sends the state's number; a `{id, label}` is read too. */
    state?: number | IdLabel;
    video?: NotificationVideo | null;
    comment?: { id?: number; threadId: number; video: NotificationVideo } | null;
    account?: NotificationActor | null;
  } | null;
  /** Types 4, 5, 12: the block and its video. */
  videoBlacklist?: { id: number; video: NotificationVideo } | null;
}

/** One subtitle file of a video (PeerTube's `VideoCaption`): always WebVTT when served. */
export interface VideoCaption {
  language: IdLabel<string>;
  automaticallyGenerated: boolean;
  /** Same-origin path (`/lazy-static/video-captions/<random>-<lang>.vtt`), also for a remote video. */
  captionPath: string;
  fileUrl: string;
  updatedAt: string;
}

/** One chapter of a video (PeerTube's `VideoChapter`): where it starts, in seconds, and its plain-text title. */
export interface VideoChapter {
  timecode: number;
  title: string;
}

/**
 * A video's storyboard (PeerTube's `Storyboard`): one JPEG sheet of `spriteWidth` × `spriteHeight`
 * sprites, left to right then top to bottom, each covering `spriteDuration` seconds.
 */
export interface VideoStoryboard {
  /** Same-origin path (`/lazy-static/storyboards/<file>.jpg`); private videos need a file token. */
  storyboardPath: string;
  totalWidth: number;
  totalHeight: number;
  spriteWidth: number;
  spriteHeight: number;
  spriteDuration: number;
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
    /** New accounts log in only after following the link of an e-mail (PeerTube's). */
    requiresEmailVerification?: boolean;
    minimumAge: number;
  };
  /** Whether the instance can send e-mails (password resets, verification). */
  email?: { enabled: boolean };
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
  /** `remoteRunners.enabled`: transcoding jobs go to remote runners (`[transcoding] remote_runners`). */
  transcoding: { enabledResolutions: number[]; remoteRunners?: { enabled: boolean } };
  user: { videoQuota: number; videoQuotaDaily: number };
  videoChannels?: { maxPerUser: number };
  /** User archives (PeerTube 6.1): `exportExpiration` in ms, `maxUserVideoQuota` in bytes. */
  export?: { users?: { enabled: boolean; exportExpiration?: number; maxUserVideoQuota?: number } };
  /** `videos.http`: users may import a video from a URL (`POST /videos/imports`); torrents never here. */
  import?: { users?: { enabled: boolean }; videos?: { http?: { enabled: boolean }; torrent?: { enabled: boolean } } };
  /** Caption files: `.vtt` and `.srt`, at most `size.max` bytes. */
  videoCaption?: { file: { extensions: string[]; size: { max: number } } };
  /** `update.enabled`: a video's managers may replace its file (`/videos/:id/source/replace-resumable`). */
  videoFile?: { update: { enabled: boolean } };
  /**
   * Lives: `enabled` while the instance takes streams (its RTMP server listens); `allowReplay`:
   * a live may be kept as a video; `latencySetting.enabled`: creators choose the latency;
   * `maxDuration` in milliseconds (-1: no limit).
   */
  live?: {
    enabled: boolean;
    allowReplay?: boolean;
    latencySetting?: { enabled: boolean };
    maxDuration?: number;
    maxInstanceLives?: number;
    maxUserLives?: number;
    rtmp?: { port: number };
    /** `remoteRunners.enabled`: lives are transcoded by remote runners (`[live] remote_runners`). */
    transcoding?: { remoteRunners?: { enabled: boolean } };
  };
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
  /** Hold the new uploads of users who are not moderators until a moderator unblocks them. */
  autoBlacklist?: { videos: { ofUsers: { enabled: boolean } } };
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

/** An account as a blocklist entry names it (the instance's own actor, for instance blocks, carries fewer fields). */
export type BlocklistAccount = Pick<Account, 'name' | 'host' | 'displayName' | 'url' | 'avatars'> & Partial<Account>;

/** One muted account (PeerTube's `AccountBlock`): `byAccount` is the user, or the instance's actor. */
export interface AccountBlock {
  byAccount: BlocklistAccount;
  blockedAccount: BlocklistAccount;
  createdAt: string;
}

/** One muted server (PeerTube's `ServerBlock`). */
export interface ServerBlock {
  byAccount: BlocklistAccount;
  blockedServer: { host: string };
  createdAt: string;
}

export interface BlockedBy {
  blockedByServer: boolean;
  blockedByUser: boolean;
}

/** `GET /blocklist/status`: keyed by the handles and hosts asked about, as they were asked. */
export interface BlockStatus {
  accounts: Record<string, BlockedBy>;
  hosts: Record<string, BlockedBy>;
}

/** Ours: `POST /server/blocklist/servers/import` (a Mastodon `domain_blocks.csv`). */
export interface BlocklistImportResult {
  added: number;
  alreadyBlocked: number;
  /** Domains of rows that do not suspend (e.g. `silence`): not muted. */
  skipped: string[];
  /** Rows that name no domain. */
  invalid: string[];
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

/** PeerTube's runner registration token: a runner registers with it (`POST /runners/register`). */
export interface RunnerRegistrationToken {
  id: number;
  registrationToken: string;
  createdAt: string;
  updatedAt: string;
  registeredRunnersCount: number;
}

/** A remote runner (PeerTube's `Runner`): another machine that takes transcoding jobs. */
export interface Runner {
  id: number;
  name: string;
  description: string | null;
  ip: string;
  createdAt: string;
  updatedAt: string;
  lastContact: string;
}

/** PeerTube's `RunnerJobState`. */
export const RunnerJobState = {
  Pending: 1,
  Processing: 2,
  Completed: 3,
  Errored: 4,
  WaitingForParentJob: 5,
  Cancelled: 6,
  ParentErrored: 7,
  ParentCancelled: 8,
} as const;

/** A job offered to runners (PeerTube's admin `RunnerJob`). */
export interface RunnerJob {
  uuid: string;
  /** `vod-hls-transcoding`, `vod-web-video-transcoding`, `vod-audio-merge-transcoding`… */
  type: string;
  state: IdLabel;
  /** What the runner is told: `output.resolution` is the rendition's height. */
  payload: { output?: { resolution?: number } } & Record<string, unknown>;
  /** What the server keeps to itself: the video's uuid. */
  privatePayload: { videoUUID?: string } & Record<string, unknown>;
  failures: number;
  error: string | null;
  /** 0–100, or null before the runner says. */
  progress: number | null;
  priority: number;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  parent?: { uuid: string; type: string; state: IdLabel } | null;
  runner: { id: number; name: string; description: string | null } | null;
}

export interface Token {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token?: string;
  refresh_token_expires_in?: number;
}

/** PeerTube's `AbuseState`. */
export const AbuseState = { Pending: 1, Rejected: 2, Accepted: 3 } as const;
export type AbuseStateId = (typeof AbuseState)[keyof typeof AbuseState];

/** PeerTube's `AbusePredefinedReasonsString`, in its order. */
export const ABUSE_PREDEFINED_REASONS = [
  'violentOrRepulsive',
  'hatefulOrAbusive',
  'spamOrMisleading',
  'privacy',
  'rights',
  'serverRules',
  'thumbnails',
  'captions',
] as const;
export type AbusePredefinedReason = (typeof ABUSE_PREDEFINED_REASONS)[number];

/** `POST /abuses`: exactly one of `video`, `comment`, `account`. */
export interface AbuseCreate {
  reason: string;
  predefinedReasons?: AbusePredefinedReason[];
  video?: { id: number | string; startAt?: number; endAt?: number };
  comment?: { id: number };
  account?: { id: number };
}

/** An account as a report names it. */
export interface AbuseAccount {
  id?: number;
  name: string;
  host: string;
  displayName: string;
  avatars?: Image[];
}

/** The reported video, as a report carries it. */
export interface AbuseVideo {
  id: number;
  uuid: string;
  shortUUID?: string;
  name: string;
  nsfw: boolean;
  startAt: number | null;
  endAt: number | null;
  /** The video was deleted since. */
  deleted: boolean;
  blacklisted: boolean;
  thumbnailPath: string | null;
  channel: { id?: number; name: string; host: string; displayName: string; avatars?: Image[] } | null;
  countReports?: number;
  nthReport?: number;
}

/** The reported comment, as a report carries it. */
export interface AbuseComment {
  id: number;
  threadId: number;
  text: string;
  deleted: boolean;
  video: { id: number; name: string; uuid: string; shortUUID?: string };
}

/**
 * One report (PeerTube's `UserAbuse` for its reporter, `AdminAbuse` for moderators, who also see
 * the moderation comment, the reporter and the counts).
 */
export interface Abuse {
  id: number;
  reason: string;
  predefinedReasons: AbusePredefinedReason[] | null;
  flaggedAccount: AbuseAccount | null;
  state: IdLabel;
  countMessages: number;
  createdAt: string;
  updatedAt: string;
  video: AbuseVideo | null;
  comment: AbuseComment | null;
  moderationComment?: string | null;
  reporterAccount?: AbuseAccount | null;
  /** Ours: the server a report came from; null when it was made here. */
  reporterHost?: string | null;
  countReportsForReporter?: number;
  countReportsForReportee?: number;
}

export type AbuseFilter = 'video' | 'comment' | 'account';

/** One message between a report's reporter and the moderators. */
export interface AbuseMessage {
  id: number;
  message: string;
  byModerator: boolean;
  createdAt: string;
  account: AbuseAccount | null;
}

/** PeerTube's `VideoBlacklistType`: 1 by a moderator, 2 held automatically for review. */
export const VideoBlockType = { Manual: 1, Auto: 2 } as const;

/** One blocked video (PeerTube's `VideoBlacklist`). */
export interface VideoBlock {
  id: number;
  videoId: number;
  createdAt: string;
  updatedAt: string;
  reason: string | null;
  unfederated: boolean;
  type: number;
  video: Video;
}

/** PeerTube's `VideoPlaylistPrivacy` (no Internal for playlists). */
export const PlaylistPrivacy = { Public: 1, Unlisted: 2, Private: 3 } as const;

/** PeerTube's `VideoPlaylistType`: 1 a playlist, 2 the user's "Watch later" (one each, never deleted or renamed). */
export const PlaylistType = { Regular: 1, WatchLater: 2 } as const;

/** A playlist (PeerTube's `VideoPlaylist`). */
export interface VideoPlaylist {
  id: number;
  uuid: string;
  shortUUID: string;
  isLocal: boolean;
  url: string;
  displayName: string;
  description: string | null;
  privacy: IdLabel;
  thumbnailPath: string | null;
  embedPath: string;
  type: IdLabel;
  videosLength: number;
  createdAt: string;
  updatedAt: string;
  ownerAccount: Pick<Account, 'id' | 'name' | 'displayName' | 'url' | 'host' | 'avatars'>;
  videoChannel: Pick<Channel, 'id' | 'name' | 'displayName' | 'url' | 'host' | 'avatars'> | null;
}

/** PeerTube's `VideoPlaylistElementType`: what the viewer may see of an element's video. */
export const PlaylistElementType = { Regular: 0, Private: 1, Unavailable: 2, Deleted: 3 } as const;

/** One element of a playlist: its video (null unless `type` is Regular) and the part to play. */
export interface VideoPlaylistElement {
  id: number;
  /** 1-based. */
  position: number;
  startTimestamp: number | null;
  stopTimestamp: number | null;
  type: number;
  video: Video | null;
}

/** `GET /users/me/video-playlists/videos-exist`: per video id, the viewer's playlists holding it. */
export type VideosExistInPlaylists = Record<
  string,
  {
    playlistElementId: number;
    playlistId: number;
    playlistDisplayName?: string;
    playlistShortUUID?: string;
    startTimestamp: number | null;
    stopTimestamp: number | null;
  }[]
>;
