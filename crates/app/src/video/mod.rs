//! Videos: upload (`upload`), transcoding to HLS (`transcode`), and what the API shows and
//! allows (`view`, `get`, `list`, `delete`). States and privacies use PeerTube's numbers.

use std::path::PathBuf;

use flotilla_db::{accounts, channels, videos};
use flotilla_domain::Role;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::{App, Error, Result, convert};

pub mod block;
pub mod captions;
pub mod chapters;
pub mod edit;
pub mod files;
pub mod import;
pub mod labels;
pub mod passwords;
pub mod renditions;
pub mod resumable;
pub mod source;
pub mod storyboards;
pub mod token;
pub mod transcode;
pub mod upload;
pub mod views;

pub const STATE_PUBLISHED: i64 = 1;
pub const STATE_TO_TRANSCODE: i64 = 2;
/// An import by URL not downloaded yet (`import`).
pub const STATE_TO_IMPORT: i64 = 3;
pub const STATE_TRANSCODING_FAILED: i64 = 7;

pub const PRIVACY_PUBLIC: i64 = 1;
pub const PRIVACY_UNLISTED: i64 = 2;
pub const PRIVACY_PRIVATE: i64 = 3;
pub const PRIVACY_INTERNAL: i64 = 4;
/// PeerTube 6.0's password-protected video (`passwords`): like unlisted, but only with a password.
pub const PRIVACY_PASSWORD: i64 = 5;

pub fn state_label(state: i64) -> &'static str {
    match state {
        STATE_PUBLISHED => "Published",
        STATE_TO_TRANSCODE => "To transcode",
        STATE_TO_IMPORT => "To import",
        crate::live::STATE_WAITING_FOR_LIVE => "Waiting for livestream",
        crate::live::STATE_LIVE_ENDED => "Livestream ended",
        STATE_TRANSCODING_FAILED => "Transcoding failed",
        _ => "Unknown",
    }
}

pub fn privacy_label(privacy: i64) -> &'static str {
    match privacy {
        PRIVACY_PUBLIC => "Public",
        PRIVACY_UNLISTED => "Unlisted",
        PRIVACY_PRIVATE => "Private",
        PRIVACY_INTERNAL => "Internal",
        PRIVACY_PASSWORD => "Password protected",
        _ => "Unknown",
    }
}

/// Where a video's HLS files live once published.
pub fn hls_dir(app: &App, uuid: &str) -> PathBuf {
    app.data_path("streaming-playlists/hls").join(uuid)
}

/// PeerTube's short UUID: the UUID's 128 bits in base 58 (Flickr's alphabet), 22 characters.
pub fn short_uuid(uuid: &uuid::Uuid) -> String {
    const ALPHABET: &[u8] = b"123456789abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut n = uuid.as_u128();
    let mut out = Vec::new();
    while n > 0 {
        out.push(ALPHABET[(n % 58) as usize]);
        n /= 58;
    }
    while out.len() < 22 {
        out.push(ALPHABET[0]);
    }
    out.reverse();
    String::from_utf8(out).expect("ascii")
}

/// The `(comments_enabled, comments_held)` columns for PeerTube's `commentsPolicy` (1 enabled,
/// 2 disabled, 3 held for approval) or its older `commentsEnabled`; `None` leaves a column as is.
pub fn comments_policy(policy: Option<i64>, enabled: Option<bool>) -> Result<(Option<bool>, Option<bool>)> {
    Ok(match (policy, enabled) {
        (Some(1), _) => (Some(true), Some(false)),
        (Some(2), _) => (Some(false), Some(false)),
        (Some(3), _) => (Some(true), Some(true)),
        (Some(_), _) => return Err(Error::invalid("commentsPolicy", "commentsPolicy must be 1, 2 or 3")),
        (None, Some(e)) => (Some(e), Some(false)),
        (None, None) => (None, None),
    })
}

/// PeerTube's `commentsPolicy` of a video.
pub fn comments_policy_of(v: &videos::Video) -> i64 {
    match (v.comments_enabled, v.comments_held) {
        (false, _) => 2,
        (true, true) => 3,
        (true, false) => 1,
    }
}

/// Who owns the video (its channel's account's user).
pub async fn owner_user(app: &App, v: &videos::Video) -> Result<Option<i64>> {
    let c = channels::get(&app.db, flotilla_domain::ChannelId(v.channel_id)).await?;
    let Some(c) = c else { return Ok(None) };
    Ok(accounts::get(&app.db, c.owner()).await?.and_then(|a| a.user_id))
}

/// Whether `user` manages this video: it is in a channel they own or edit (shared channels).
pub async fn manages(app: &App, user: i64, v: &videos::Video) -> Result<bool> {
    if owner_user(app, v).await? == Some(user) {
        return Ok(true);
    }
    Ok(flotilla_db::collaborators::edits(&app.db, user, v.channel_id).await?)
}

fn is_moderator(who: Option<&AuthUser>) -> bool {
    who.is_some_and(|w| matches!(w.role(), Role::Admin | Role::Moderator))
}

/// Whether `who` may see this video at all: published public/unlisted for everyone, internal for
/// logged-in users, private and unpublished for the owner and moderators.
pub async fn can_see(app: &App, who: Option<&AuthUser>, v: &videos::Video) -> Result<bool> {
    if is_moderator(who) {
        return Ok(true);
    }
    let is_owner = match who {
        Some(w) => manages(app, w.user.id, v).await?,
        None => false,
    };
    if is_owner {
        return Ok(true);
    }
    // Held back by moderators: for its owner and them only. A live's page shows while it waits
    // for its stream and after it ended.
    let shown = v.state == STATE_PUBLISHED
        || (v.is_live && matches!(v.state, crate::live::STATE_WAITING_FOR_LIVE | crate::live::STATE_LIVE_ENDED));
    if !shown || v.blocked != 0 {
        return Ok(false);
    }
    Ok(match v.privacy {
        PRIVACY_PUBLIC | PRIVACY_UNLISTED => true,
        PRIVACY_INTERNAL => who.is_some(),
        _ => false,
    })
}

/// The video behind `key` (numeric id, UUID or short UUID) if `who` may open it: as
/// [`can_see`], or a password-protected one with its password ([`passwords::open`]).
pub async fn open(app: &App, who: Option<&AuthUser>, key: &str, attempt: &passwords::Attempt) -> Result<videos::Video> {
    let v = videos::get_by_any_id(&app.db, key).await?.ok_or_else(|| Error::not_found("video"))?;
    passwords::open(app, who, &v, attempt).await?;
    Ok(v)
}

/// `GET /api/v1/videos/:id`: by numeric id, UUID or short UUID. Videos the caller may not see
/// answer 404, as if they did not exist; a password-protected one 403 without its password.
pub async fn get(app: &App, who: Option<&AuthUser>, key: &str, attempt: &passwords::Attempt) -> Result<Value> {
    let v = open(app, who, key, attempt).await?;
    let owner = match who {
        Some(w) => is_moderator(who) || manages(app, w.user.id, &v).await?,
        None => false,
    };
    // Someone watches a copy of a remote video: keep it true to its origin (in the background).
    crate::events::seen(app, crate::events::Seen::Video(&v)).await;
    let mut out = view(app, &v, true, owner).await?;
    crate::history::annotate(app, who, std::slice::from_ref(&v), std::slice::from_mut(&mut out)).await?;
    Ok(out)
}

/// The tracker's admission: the local video whose rendition announces under `info_hash`; `Err`
/// when the database cannot answer now (not the client's fault).
pub async fn p2p_video_of(app: &App, info_hash: &str) -> std::result::Result<Option<i64>, ()> {
    if !app.config.p2p.enabled {
        return Ok(None);
    }
    videos::video_by_infohash(&app.db, info_hash).await.map_err(|e| {
        tracing::warn!(error = %e, "tracker cannot look up an info hash");
    })
}

/// The API object of a video; `details` adds what `GET /videos/:id` shows beyond lists.
pub async fn view(app: &App, v: &videos::Video, details: bool, owner: bool) -> Result<Value> {
    let owners = Owners::load(app, std::slice::from_ref(v)).await?;
    let (account_json, channel_json) = owners.of(v)?;
    let mut out = if details {
        let files = videos::all_files(&app.db, v.id).await?;
        let extras = videos::watch_extras(&app.db, v.id, owners.actor_of(v)?, flotilla_domain::time::now_ms()).await?;
        let mut out = convert::video_to_api(app, v, account_json, channel_json, &files, &extras.tags, true);
        // The watch page shows the channel's true follower count (lists keep PeerTube's 0).
        out["channel"]["followersCount"] = json!(extras.followers);
        // P2P: the tracker of the video's origin and the swarms of its renditions.
        let (trackers, hashes) = match v.remote_data.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok()) {
            Some(r) => (r["trackerUrls"].clone(), r["infohashes"].clone()),
            None if app.config.p2p.enabled => (json!([crate::uris::tracker(app)]), json!(extras.infohashes)),
            None => (json!([]), json!([])),
        };
        out["trackerUrls"] = if trackers.is_array() { trackers } else { json!([]) };
        if let Some(p) = out["streamingPlaylists"].get_mut(0) {
            p["p2pMediaLoaderInfohashes"] = if hashes.is_array() { hashes } else { json!([]) };
            // Other servers' copies of our video (PeerTube's redundancy), for players to spread over.
            if v.is_local() {
                p["redundancies"] = json!(extras.mirrors.iter().map(|u| json!({ "baseUrl": u })).collect::<Vec<_>>());
            }
        }
        out
    } else {
        convert::video_to_api(app, v, account_json, channel_json, &[], &[], false)
    };
    if owner && v.blocked != 0 {
        out["blacklistedReason"] = json!(flotilla_db::video_blocks::get(&app.db, v.id).await?.and_then(|b| b.reason));
    }
    let no_files = out["files"].as_array().is_some_and(|f| f.is_empty());
    if owner && details && v.state != STATE_PUBLISHED && v.input_path.is_some() && no_files {
        out["files"] = json!([files::source_json(app, v)]);
    }
    if owner {
        // Ours, beside PeerTube's fields: what the owner needs to follow the processing.
        // A live is never transcoded as a whole.
        out["transcodingProgress"] = if v.is_live { Value::Null } else { json!(v.transcode_progress) };
        out["stateError"] = json!(v.error);
    }
    Ok(out)
}

/// The account and channel JSON of the videos' channels, each built once (a page's videos
/// mostly share a few channels), with one query whatever their count: channels, accounts and
/// their images are loaded together ([`channels::owners`]), not per row.
struct Owners {
    /// `(channel id, channel's actor id, account JSON, channel JSON)`.
    built: Vec<(i64, i64, Value, Value)>,
}

impl Owners {
    async fn load(app: &App, list: &[videos::Video]) -> Result<Owners> {
        let mut channel_ids: Vec<i64> = list.iter().map(|v| v.channel_id).collect();
        channel_ids.sort_unstable();
        channel_ids.dedup();
        let (chans, accs, imgs) = channels::owners(&app.db, &channel_ids).await?;
        let mut built = Vec::with_capacity(chans.len());
        for c in &chans {
            let a = accs.iter().find(|a| a.id == c.account_id).ok_or_else(|| Error::not_found("account"))?;
            let account_json = convert::account_to_api(app, a, &imgs);
            let channel_json = convert::channel_to_api(app, c, &imgs, account_json.clone());
            built.push((c.id, c.actor_id, account_json, channel_json));
        }
        Ok(Owners { built })
    }

    /// The account and channel JSON of `v`'s channel.
    fn of(&self, v: &videos::Video) -> Result<(&Value, &Value)> {
        let (_, _, a, c) = self.find(v)?;
        Ok((a, c))
    }

    /// The actor id of `v`'s channel.
    fn actor_of(&self, v: &videos::Video) -> Result<i64> {
        Ok(self.find(v)?.1)
    }

    fn find(&self, v: &videos::Video) -> Result<&(i64, i64, Value, Value)> {
        self.built.iter().find(|(id, ..)| *id == v.channel_id).ok_or_else(|| Error::not_found("channel"))
    }
}

/// API objects of several videos, as lists show them, with one query whatever their count.
pub async fn views(app: &App, list: &[videos::Video]) -> Result<Vec<Value>> {
    let owners = Owners::load(app, list).await?;
    let mut out = Vec::with_capacity(list.len());
    for v in list {
        let (account_json, channel_json) = owners.of(v)?;
        out.push(convert::video_to_api(app, v, account_json, channel_json, &[], &[], false));
    }
    Ok(out)
}

/// A page of a video list as JSON text: `{"data":[…],"total":N}` (the keys in a `Value`'s
/// order), each item written straight from its row ([`convert::VideoItem`]), with `userHistory`
/// for a logged-in caller who watched it (as [`crate::history::annotate`]).
async fn page_json(app: &App, who: Option<&AuthUser>, rows: &[videos::Video], total: i64) -> Result<Box<RawValue>> {
    #[derive(serde::Serialize)]
    struct Page<'a> {
        data: Vec<convert::VideoItem<'a, RawValue>>,
        total: i64,
    }
    let owners = Owners::load(app, rows).await?;
    // Each channel's account and channel written once, not once per video of theirs: they are
    // half of a list's text, and a page's videos mostly share a few channels.
    let raw = |v: &Value| serde_json::value::to_raw_value(v).map_err(|e| Error::Internal(format!("video list: {e}")));
    let written = owners
        .built
        .iter()
        .map(|(id, _, account, channel)| Ok((*id, raw(account)?, raw(channel)?)))
        .collect::<Result<Vec<_>>>()?;
    let positions = crate::history::positions_of(app, who, rows).await?;
    let mut data = Vec::with_capacity(rows.len());
    for (v, at) in rows.iter().zip(positions) {
        let (_, account_json, channel_json) =
            written.iter().find(|(id, ..)| *id == v.channel_id).ok_or_else(|| Error::not_found("channel"))?;
        let mut item = convert::video_item(app, v, &**account_json, &**channel_json, false);
        item.user_history = at.map(|current_time| convert::UserHistory { current_time });
        data.push(item);
    }
    serde_json::value::to_raw_value(&Page { data, total }).map_err(|e| Error::Internal(format!("video list: {e}")))
}

/// The parameters of PeerTube's video lists (`GET /videos`, channel and account videos, search).
#[derive(Debug, Default, Clone)]
pub struct ListParams {
    pub start: Option<i64>,
    pub count: Option<i64>,
    pub sort: Option<String>,
    pub category_one_of: Vec<i64>,
    pub tags_one_of: Vec<String>,
    pub language_one_of: Vec<String>,
    /// `true`, `false` or `both`.
    pub nsfw: Option<String>,
    pub is_local: Option<bool>,
    pub is_live: Option<bool>,
    pub privacy_one_of: Vec<i64>,
    pub search: Option<String>,
    /// Leave out what the caller already watched (logged-in users).
    pub exclude_already_watched: bool,
}

impl ListParams {
    /// Reads PeerTube's query parameters; repeated keys (`tagsOneOf=a&tagsOneOf=b`) and `[]`
    /// suffixes both make lists.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<ListParams> {
        let mut p = ListParams::default();
        let int =
            |k: &str, v: &str| v.trim().parse::<i64>().map_err(|_| Error::invalid(k, format!("'{v}' is not a number")));
        for (k, v) in pairs {
            let key = k.trim_end_matches("[]");
            match key {
                "start" => p.start = Some(int(key, v)?),
                "count" => p.count = Some(int(key, v)?),
                "sort" => p.sort = Some(v.clone()),
                "categoryOneOf" => p.category_one_of.push(int(key, v)?),
                "privacyOneOf" => p.privacy_one_of.push(int(key, v)?),
                "tagsOneOf" => p.tags_one_of.push(v.clone()),
                "languageOneOf" => p.language_one_of.push(v.clone()),
                "nsfw" => p.nsfw = Some(v.clone()),
                "isLocal" => p.is_local = Some(v == "true"),
                "isLive" => p.is_live = Some(v == "true"),
                "search" => p.search = Some(v.clone()),
                "excludeAlreadyWatched" => p.exclude_already_watched = v == "true",
                _ => {}
            }
        }
        if let Some(n) = &p.nsfw
            && !matches!(n.as_str(), "true" | "false" | "both")
        {
            return Err(Error::invalid("nsfw", "nsfw must be true, false or both"));
        }
        Ok(p)
    }
}

/// Whose videos a list shows.
pub enum Scope<'a> {
    All,
    Channel(&'a str),
    Account(&'a str),
    /// The caller's own videos, in every state and privacy.
    Mine,
    /// Videos of the channels the caller subscribes to.
    Subscriptions,
}

const SORTS: &[(&str, &str)] = &[
    ("publishedAt", "v.published_at"),
    ("originallyPublishedAt", "v.originally_published_at"),
    ("createdAt", "v.created_at"),
    ("name", "v.name"),
    ("views", "v.views"),
    ("likes", "v.likes"),
    ("duration", "v.duration"),
    // "trending" and "hot" rank by the views of the last week (the daily counts older than that
    // are pruned every hour: `video::views::prune`; `recent_views` is their sum), "best" by likes.
    ("trending", "v.recent_views"),
    ("hot", "v.recent_views"),
    ("best", "v.likes"),
];

/// `GET /api/v1/videos`, `/video-channels/:handle/videos`, `/accounts/:name/videos`,
/// `/users/me/videos` and `/search/videos`: the page as JSON text ([`page_json`]).
pub async fn list(app: &App, who: Option<&AuthUser>, p: ListParams, scope: Scope<'_>) -> Result<Box<RawValue>> {
    let page = crate::page(p.start, p.count);
    let mut f = videos::VideoFilter {
        public_only: true,
        category_one_of: p.category_one_of,
        language_one_of: p.language_one_of,
        tags_one_of: p.tags_one_of,
        search: p.search.clone(),
        ..Default::default()
    };
    match scope {
        Scope::All => {}
        Scope::Channel(handle) => f.channel_id = Some(crate::channel::get_by_handle(app, handle).await?.id),
        Scope::Account(name) => f.account_id = Some(crate::account::get_by_handle(app, name).await?.id),
        Scope::Mine => {
            let who = who.ok_or_else(|| Error::Unauthorized { code: "missing_token", msg: "log in first".into() })?;
            let acc = accounts::get_by_user(&app.db, who.id()).await?.ok_or_else(|| Error::not_found("account"))?;
            // Theirs and those of the channels they edit.
            f.managed_by = Some(acc.id);
            f.public_only = false;
        }
        Scope::Subscriptions => {
            let who = who.ok_or_else(|| Error::Unauthorized { code: "missing_token", msg: "log in first".into() })?;
            let acc = accounts::get_by_user(&app.db, who.id()).await?.ok_or_else(|| Error::not_found("account"))?;
            f.subscriptions_of = Some(acc.actor_id);
        }
    }
    if !p.privacy_one_of.is_empty() {
        if !is_moderator(who) {
            return Err(Error::Forbidden("only moderators and admins may list videos by privacy".into()));
        }
        f.public_only = false;
        f.published_only = true;
        f.privacy_one_of = p.privacy_one_of;
    }
    f.is_local = p.is_local;
    f.is_live = p.is_live;
    if p.exclude_already_watched {
        f.unwatched_by = who.map(|w| w.user.id);
    }
    if !matches!(scope, Scope::Mine) {
        f.hide_accounts = crate::blocklist::hidden_for(app, who.map(|w| w.user.id)).await?.to_vec();
    }
    f.nsfw = match p.nsfw.as_deref() {
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => None,
        None => {
            let policy = match who {
                Some(w) => w.user.nsfw_policy.clone(),
                None => app.settings().default_nsfw_policy.clone(),
            };
            (policy == "do_not_list" && !matches!(scope, Scope::Mine)).then_some(false)
        }
    };
    let default = if f.search.is_some() { "match" } else { "v.published_at DESC" };
    let order = match p.sort.as_deref() {
        Some("-match") | Some("match") => "match".to_string(),
        s => flotilla_db::order_by(s, SORTS, default),
    };
    // Totals of public lists (searches included) are remembered for a few seconds: counting
    // 100,000 rows for every page view costs more than the page. So are their deep pages' starts.
    let key = format!("{f:?}");
    let cacheable = f.public_only && f.unwatched_by.is_none();
    let (known, recount) = if cacheable { app.list_totals.lookup(&key) } else { (None, false) };
    let given = known.filter(|_| !recount);
    // A deep page past the end of a list whose total is fresh has nothing to read (walking the
    // whole index to find that out cost 5 ms per request at 10,000 videos).
    if let Some(n) = given
        && page.start >= BOOKMARK_STEP
        && page.start >= n
    {
        return page_json(app, who, &[], n).await;
    }
    let at = if cacheable { bookmark(app, &f, &order, &key, page.start).await? } else { None };
    let (mut rows, mut total) = videos::list_counted(&app.db, &f, &order, page.start, page.count, given, at).await?;
    // A remembered total the page itself contradicts (a video just published is on a page the
    // old total ends before, or the list ends before it) is counted again now.
    let contradicted = given.is_some_and(|n| !consistent(n, page.start, page.count, rows.len()));
    if contradicted {
        (rows, total) = videos::list_counted(&app.db, &f, &order, page.start, page.count, None, at).await?;
    }
    if cacheable && (recount || contradicted) {
        app.list_totals.put(key, total);
    }
    page_json(app, who, &rows, total).await
}

/// Whether `total` can be the length of a list whose page at `start` (asking `count`) has `got`
/// rows: a full page needs at least that many, a short one ends the list.
fn consistent(total: i64, start: i64, count: i64, got: usize) -> bool {
    let (start, got) = (start.max(0), got as i64);
    if got >= count {
        total >= start + got
    } else if got > 0 {
        total == start + got
    } else {
        total <= start
    }
}

/// Deep pages start from a bookmark every this many rows.
const BOOKMARK_STEP: i64 = 1_000;

/// Where the page at `start` of a public list can be read from: a bookmark of that list at the
/// step at or before `start`, remembered for a few seconds like its total (`key` is its filter).
/// A page read from it is the page the list had when the bookmark was taken, give or take the
/// videos published, removed or re-ranked in those seconds, the same drift any offset page has
/// between two requests.
async fn bookmark(
    app: &App,
    f: &videos::VideoFilter,
    order: &str,
    key: &str,
    start: i64,
) -> Result<Option<videos::Bookmark>> {
    if start < BOOKMARK_STEP || videos::seekable(f, order).is_none() {
        return Ok(None);
    }
    let offset = start - start % BOOKMARK_STEP;
    let key = format!("{order} {offset} {key}");
    let (known, refind) = app.list_bookmarks.lookup(&key);
    if !refind {
        return Ok(known.map(|(value, id)| videos::Bookmark { offset, value, id }));
    }
    let found = videos::bookmark(&app.db, f, order, offset).await?;
    if let Some(b) = found {
        app.list_bookmarks.put(key, (b.value, b.id));
    }
    Ok(found)
}

/// `DELETE /api/v1/videos/:id`: the owner or a moderator. Files go after the row, so a failed
/// delete never leaves a video pointing at missing files.
pub async fn delete(app: &App, who: &AuthUser, key: &str) -> Result<()> {
    let v = videos::get_by_any_id(&app.db, key).await?.ok_or_else(|| Error::not_found("video"))?;
    let is_owner = manages(app, who.user.id, &v).await?;
    if !is_owner && !is_moderator(Some(who)) {
        if can_see(app, Some(who), &v).await? {
            return Err(Error::Forbidden("you cannot delete a video that is not yours".into()));
        }
        return Err(Error::not_found("video"));
    }
    // The row, its tombstone and the news for its followers go in one transaction; the files after.
    let mut tx = app.db.begin().await?;
    deleting(&mut tx, app, &v, false).await?;
    videos::delete(&mut tx, v.id).await?;
    tx.commit().await?;
    app.wake_jobs();
    remove_files(app, &v).await;
    tracing::info!(video = %v.uuid, by = %who.user.username, "video deleted");
    Ok(())
}

/// A video other servers may fetch by its id (see [`crate::ap::federates`]).
pub async fn get_federated(app: &App, uuid: &str) -> Result<videos::Video> {
    match videos::get_by_uuid(&app.db, uuid).await? {
        Some(v) if crate::ap::federates(app, &v) => Ok(v),
        _ => Err(Error::not_found("video")),
    }
}

/// Drops what the media cache holds of a video — its access decision and its bytes — here and in
/// the other processes (`changes`).
pub async fn forget_files(app: &App, uuid: &str) {
    crate::changes::tell(app, crate::changes::Change::Video(uuid.to_string())).await;
}

/// [`forget_files`] in this process only.
pub fn forget_files_here(app: &App, uuid: &str) {
    app.media_cache.invalidate_access(uuid);
    app.media_cache.invalidate_dir(&hls_dir(app, uuid));
}

/// Removes a video: its row first (with what cascades from it), then its files, so a failed
/// delete never leaves a video pointing at missing files. (Followers of a local video are told by
/// [`delete`]; this is for copies of remote videos and clean-ups.)
pub async fn remove(app: &App, v: &videos::Video) -> Result<()> {
    let mut tx = app.db.begin().await?;
    crate::storage::deleting(&mut tx, v).await?;
    videos::delete(&mut tx, v.id).await?;
    tx.commit().await?;
    app.wake_jobs();
    remove_files(app, v).await;
    Ok(())
}

/// In the transaction deleting a local video: when its followers knew it, its URL gets a
/// tombstone (servers that missed the `Delete` learn it from a 410) and the deletion is recorded
/// for them. `by_instance`: its account goes too, so the instance actor speaks.
pub async fn deleting(tx: &mut flotilla_db::Tx, app: &App, v: &videos::Video, by_instance: bool) -> Result<()> {
    crate::storage::deleting(tx, v).await?;
    if let Some(event) = crate::events::video_deleted(&mut *tx, app, v, by_instance).await? {
        let url = crate::uris::video(app, &v.uuid);
        videos::insert_tombstone(&mut *tx, &url, "Video", flotilla_domain::time::now_ms()).await?;
        crate::events::record(tx, event).await?;
    }
    Ok(())
}

/// Removes everything a video has on disk (HLS files, images, the quarantined upload) and what the
/// media cache holds of it.
pub async fn remove_files(app: &App, v: &videos::Video) {
    // A live streaming now stops (its connection ends the session).
    if v.is_live {
        crate::changes::tell(app, crate::changes::Change::StopLive { video_id: v.id, error: 0 }).await;
    }
    forget_files(app, &v.uuid).await;
    app.edge.forget(app, &v.uuid).await;
    crate::redundancy::remove_files(app, &v.uuid).await;
    let mut paths = vec![
        hls_dir(app, &v.uuid),
        files::web_dir(app, &v.uuid),
        files::torrent_dir(app, &v.uuid),
        captions::dir(app, &v.uuid),
        storyboards::dir(app, &v.uuid),
        app.data_path("tmp/transcode").join(&v.uuid),
    ];
    if let Some(p) = &v.input_path {
        paths.push(PathBuf::from(p));
    }
    // A kept original is named after its video (`source::after_transcoding`).
    if let Ok(mut rd) = tokio::fs::read_dir(source::originals_dir(app)).await {
        let prefix = format!("{}-", v.uuid);
        while let Ok(Some(e)) = rd.next_entry().await {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                paths.push(e.path());
            }
        }
    }
    if let Some(t) = &v.thumbnail {
        paths.push(app.data_path("thumbnails").join(t));
    }
    if let Some(p) = &v.preview {
        paths.push(app.data_path("previews").join(p));
    }
    for p in paths {
        let r = if p.is_dir() { tokio::fs::remove_dir_all(&p).await } else { tokio::fs::remove_file(&p).await };
        if let Err(e) = r
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %p.display(), error = %e, "cannot remove a video file");
        }
    }
    // Their copies in the object store's images bucket, if they went there.
    for (dir, name) in [("thumbnails", &v.thumbnail), ("previews", &v.preview)] {
        if let Some(name) = name {
            crate::image_storage::forget(app, dir, std::slice::from_ref(name)).await;
        }
    }
}

/// The UUID of a video whose files the caller may fetch — by a valid `videoFileToken`, or because
/// they may see the video — and 404 otherwise, so private videos do not reveal that they exist.
pub async fn get_for_files(app: &App, who: Option<&AuthUser>, uuid: &str, file_token: Option<&str>) -> Result<String> {
    files_access(app, who, uuid, file_token, false).await
}

/// The video, when its files are in the object store (checked only when a store is configured:
/// otherwise every file is on the disk and the hot path asks nothing more).
pub async fn stored_elsewhere(app: &App, uuid: &str) -> Result<Option<videos::Video>> {
    if app.object_storage.is_none() {
        return Ok(None);
    }
    let v = videos::get_by_uuid(&app.db, uuid).await?;
    Ok(v.filter(|v| v.storage != videos::STORAGE_FILE_SYSTEM))
}

/// [`get_for_files`] for a live's own files (`flotilla_media::live::is_live_file`): these exist
/// only while it streams and for `[live] cleanup_delay_secs` after, when the video is no longer
/// published (ended, waiting for its next stream, or its replay being transcoded) but viewers
/// behind the edge still play to the end. Its privacy and moderation decide as for any file.
pub async fn get_for_live_files(
    app: &App,
    who: Option<&AuthUser>,
    uuid: &str,
    file_token: Option<&str>,
) -> Result<String> {
    files_access(app, who, uuid, file_token, true).await
}

async fn files_access(
    app: &App,
    who: Option<&AuthUser>,
    uuid: &str,
    file_token: Option<&str>,
    live_file: bool,
) -> Result<String> {
    // The hot path of every segment request: a recent "anyone may" answers without the database.
    if app.media_cache.public_access(uuid) == Some(true) {
        return Ok(uuid.to_string());
    }
    let v = videos::get_by_uuid(&app.db, uuid).await?.ok_or_else(|| Error::not_found("file"))?;
    let public = (v.state == STATE_PUBLISHED || live_file)
        && matches!(v.privacy, PRIVACY_PUBLIC | PRIVACY_UNLISTED)
        && v.blocked == 0;
    if public && v.state != STATE_PUBLISHED {
        // Not remembered: the shortcut would open the video's other files too.
        return Ok(v.uuid);
    }
    if public {
        app.media_cache.remember_access(&v.uuid, true);
        return Ok(v.uuid);
    }
    let by_token =
        file_token.is_some_and(|t| token::verify(&app.file_token_key, &v.uuid, t, flotilla_domain::time::now_ms()));
    if !by_token && !can_see(app, who, &v).await? {
        return Err(Error::not_found("file"));
    }
    Ok(v.uuid)
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_uuids_are_22_base58_characters() {
        let u = uuid::Uuid::parse_str("abd7742c-5dfb-48cd-9933-c6f211618228").unwrap();
        let s = super::short_uuid(&u);
        assert_eq!(s.len(), 22);
        assert!(!s.contains(['0', 'O', 'I', 'l']));
        assert_eq!(super::short_uuid(&uuid::Uuid::nil()), "1".repeat(22));
    }
}
