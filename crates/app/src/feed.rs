//! Feeds, as PeerTube serves them: the public videos (`/feeds/videos.{xml,atom,json}`, of an
//! account, a channel, or ours only), a user's subscriptions (`/feeds/subscriptions.*`, behind
//! their feed token), the newest comments (`/feeds/video-comments.*`) and a channel's podcast
//! (`/feeds/podcast/videos.xml`: RSS with the iTunes and Podcasting 2.0 namespaces, one
//! alternate enclosure per rendition). RSS 2.0 and Atom 1.0 are written by the `rss` and
//! `atom_syndication` crates, JSON Feed 1.1 with serde; nothing is assembled as text. Answers are
//! kept a few minutes ([`FeedCache`]): a feed reader polls.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use flotilla_db::{accounts, channels, comments, users, videos};
use flotilla_domain::time::iso8601;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::{App, Error, Result, uris};

/// Items in a feed (PeerTube's default).
const ITEMS: i64 = 20;
/// Episodes in a podcast feed.
const EPISODES: i64 = 100;
/// How long an answer is kept.
const KEEP: Duration = Duration::from_secs(300);
/// Answers kept at most (the map is emptied when full: a flood of distinct queries costs work,
/// never memory).
const CACHED: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Rss,
    Atom,
    Json,
}

impl Format {
    /// From the path's extension (`xml`, `rss`, `atom`, `json`) or PeerTube's `format=` parameter.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "xml" | "rss" | "rss2" => Some(Format::Rss),
            "atom" | "atom1" => Some(Format::Atom),
            "json" | "json1" => Some(Format::Json),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
        }
    }
}

/// Recent answers by their full request.
#[derive(Default)]
pub struct FeedCache {
    entries: Mutex<HashMap<String, (Instant, String)>>,
}

impl FeedCache {
    fn get(&self, key: &str) -> Option<String> {
        let map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key).filter(|(at, _)| at.elapsed() < KEEP).map(|(_, body)| body.clone())
    }

    fn put(&self, key: String, body: String) {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= CACHED {
            map.clear();
        }
        map.insert(key, (Instant::now(), body));
    }
}

/// PeerTube's feed parameters.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct FeedQuery {
    pub account_id: Option<i64>,
    pub account_name: Option<String>,
    pub video_channel_id: Option<i64>,
    pub video_channel_name: Option<String>,
    pub video_id: Option<String>,
    pub is_local: Option<bool>,
    pub sort: Option<String>,
    pub nsfw: Option<String>,
    pub token: Option<String>,
    pub format: Option<String>,
}

/// What every format says of the feed itself.
struct Head {
    title: String,
    /// Its HTML page.
    link: String,
    description: String,
    /// Its own URL.
    url: String,
    image: Option<String>,
}

/// One item.
struct Item {
    id: String,
    title: String,
    link: String,
    /// Sanitised HTML.
    html: String,
    published: i64,
    updated: i64,
    author: String,
    author_url: String,
    thumbnail: Option<String>,
    /// `(url, MIME type, bytes)`.
    enclosure: Option<(String, &'static str, i64)>,
}

/// The video feeds: `GET /feeds/videos.{fmt}` (`subscriptions` `false`) and
/// `/feeds/subscriptions.{fmt}` (`accountId` and its user's `token`).
pub async fn videos(app: &App, fmt: Format, q: &FeedQuery, path: &str, subscriptions: bool) -> Result<String> {
    // The token is checked before the cache: a renewed token shuts the old URL at once.
    let account = if subscriptions { Some(subscriber(app, q).await?) } else { None };
    let key = format!("{fmt:?}{path}?{q:?}");
    if let Some(body) = app.feeds.get(&key) {
        return Ok(body);
    }
    let site = app.settings().name.clone();
    let base = app.public.base();
    let mut f = videos::VideoFilter { public_only: true, is_local: q.is_local, ..Default::default() };
    let mut head = Head {
        title: site.clone(),
        link: base.clone(),
        description: app.settings().short_description.clone(),
        url: format!("{base}{path}"),
        image: None,
    };
    if let Some(account) = account {
        f.subscriptions_of = Some(account.actor_id);
        head.title = format!("{} - {}", site, "Subscriptions");
        head.link = format!("{base}/videos/subscriptions");
    } else if let Some(c) = channel_of(app, q).await? {
        f.channel_id = Some(c.id);
        head.title = c.display_name.clone();
        head.link = c.url.clone().unwrap_or_else(|| uris::channel(app, &c.name));
        head.description = c.description.clone().unwrap_or_default();
    } else if let Some(a) = account_of(app, q).await? {
        f.account_id = Some(a.id);
        head.title = a.display_name.clone();
        head.link = a.url.clone().unwrap_or_else(|| uris::account(app, &a.name));
        head.description = a.description.clone().unwrap_or_default();
    }
    f.hide_accounts = crate::blocklist::hidden_for(app, None).await?.to_vec();
    f.nsfw = match q.nsfw.as_deref() {
        Some("true") => Some(true),
        Some("both") => None,
        Some("false") => Some(false),
        Some(_) => return Err(Error::invalid("nsfw", "nsfw must be true, false or both")),
        None => (app.settings().default_nsfw_policy == "do_not_list").then_some(false),
    };
    const SORTS: &[(&str, &str)] =
        &[("publishedAt", "v.published_at"), ("createdAt", "v.created_at"), ("views", "v.views"), ("likes", "v.likes")];
    let order = flotilla_db::order_by(q.sort.as_deref(), SORTS, "v.published_at DESC");
    let (rows, _) = videos::list_counted(&app.db, &f, &order, 0, ITEMS, Some(0), None).await?;
    let items = video_items(app, &rows).await?;
    let body = render(fmt, &head, &items);
    app.feeds.put(key, body.clone());
    Ok(body)
}

/// The account of a subscriptions feed, when `token` is its user's feed token.
async fn subscriber(app: &App, q: &FeedQuery) -> Result<accounts::Account> {
    let denied = || Error::Forbidden("the feed token does not match this account".into());
    let id = q.account_id.ok_or_else(|| Error::invalid("accountId", "accountId is required"))?;
    let token =
        q.token.as_deref().filter(|t| !t.is_empty()).ok_or_else(|| Error::invalid("token", "token is required"))?;
    let a = accounts::get(&app.db, flotilla_domain::AccountId(id)).await?.ok_or_else(denied)?;
    let user = a.user_id.ok_or_else(denied)?;
    let stored = users::feed_token(&app.db, flotilla_domain::UserId(user)).await?.ok_or_else(denied)?;
    if !crate::auth::same_secret(stored.as_bytes(), token.as_bytes()) {
        return Err(denied());
    }
    Ok(a)
}

async fn channel_of(app: &App, q: &FeedQuery) -> Result<Option<channels::Channel>> {
    if let Some(id) = q.video_channel_id {
        return Ok(Some(
            channels::get(&app.db, flotilla_domain::ChannelId(id)).await?.ok_or_else(|| Error::not_found("channel"))?,
        ));
    }
    match &q.video_channel_name {
        Some(n) => Ok(Some(crate::channel::get_by_handle(app, n).await?)),
        None => Ok(None),
    }
}

async fn account_of(app: &App, q: &FeedQuery) -> Result<Option<accounts::Account>> {
    if let Some(id) = q.account_id {
        return Ok(Some(
            accounts::get(&app.db, flotilla_domain::AccountId(id)).await?.ok_or_else(|| Error::not_found("account"))?,
        ));
    }
    match &q.account_name {
        Some(n) => Ok(Some(crate::account::get_by_handle(app, n).await?)),
        None => Ok(None),
    }
}

/// The files a feed offers for a video: its web videos when the instance makes them (plain MP4s,
/// what podcast apps play best), else its HLS renditions' fragmented MP4s.
async fn episode_files(app: &App, video: i64) -> Result<Vec<videos::VideoFile>> {
    let web = videos::web_files(&app.db, video).await?;
    Ok(if web.is_empty() { videos::files(&app.db, video).await? } else { web })
}

/// The watch page of a video (PeerTube's short form).
fn watch_link(app: &App, v: &videos::Video) -> String {
    format!("{}/w/{}", app.public.base(), v.short_uuid)
}

async fn video_items(app: &App, rows: &[videos::Video]) -> Result<Vec<Item>> {
    let shown = crate::video::views(app, rows).await?;
    let mut out = Vec::with_capacity(rows.len());
    for (v, api) in rows.iter().zip(shown) {
        let files = if v.is_local() { episode_files(app, v.id).await? } else { Vec::new() };
        let enclosure = files.iter().max_by_key(|f| f.resolution).map(|f| {
            (
                crate::video::files::file_url(app, v, f),
                if f.resolution == 0 { "audio/mp4" } else { "video/mp4" },
                f.size,
            )
        });
        out.push(Item {
            id: v.remote_url.clone().unwrap_or_else(|| uris::video(app, &v.uuid)),
            title: v.name.clone(),
            link: watch_link(app, v),
            html: crate::text::markdown_to_html(v.description.as_deref().unwrap_or_default()),
            published: v.published_at.unwrap_or(v.created_at),
            updated: v.updated_at,
            author: api["channel"]["displayName"].as_str().unwrap_or_default().to_string(),
            author_url: api["channel"]["url"].as_str().unwrap_or_default().to_string(),
            thumbnail: api["thumbnailPath"].as_str().map(|p| uris::absolute(app, p)),
            enclosure,
        });
    }
    Ok(out)
}

/// `GET /feeds/video-comments.{fmt}` (`videoId` for one video's).
pub async fn comments(app: &App, fmt: Format, q: &FeedQuery, path: &str) -> Result<String> {
    let key = format!("{fmt:?}{path}?{q:?}");
    if let Some(body) = app.feeds.get(&key) {
        return Ok(body);
    }
    let base = app.public.base();
    let mut head = Head {
        title: format!("{} - Comments", app.settings().name),
        link: base.clone(),
        description: app.settings().short_description.clone(),
        url: format!("{base}{path}"),
        image: None,
    };
    let video = match &q.video_id {
        Some(id) => {
            let v = videos::get_by_any_id(&app.db, id).await?.ok_or_else(|| Error::not_found("video"))?;
            if !crate::video::can_see(app, None, &v).await? || v.privacy != crate::video::PRIVACY_PUBLIC {
                return Err(Error::not_found("video"));
            }
            head.title = format!("{} - Comments", v.name);
            head.link = watch_link(app, &v);
            Some(v)
        }
        None => None,
    };
    let hide = crate::blocklist::hidden_for(app, None).await?.to_vec();
    let rows = comments::recent_public(&app.db, video.as_ref().map(|v| v.id), &hide, ITEMS).await?;
    let mut ids: Vec<i64> = rows.iter().map(|c| c.video_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let vids = videos::get_many(&app.db, &ids).await?;
    let mut account_ids: Vec<i64> = rows.iter().filter_map(|c| c.account_id).collect();
    account_ids.sort_unstable();
    account_ids.dedup();
    let accs = accounts::get_many(&app.db, &account_ids).await?;
    let mut items = Vec::with_capacity(rows.len());
    for c in &rows {
        let (Some(v), Some(a)) =
            (vids.iter().find(|v| v.id == c.video_id), accs.iter().find(|a| Some(a.id) == c.account_id))
        else {
            continue;
        };
        items.push(Item {
            id: crate::comment::url(app, v, c),
            title: format!("{} - {}", v.name, a.display_name),
            link: format!("{};threadId={}", watch_link(app, v), c.thread()),
            html: crate::text::markdown_to_html(&c.text),
            published: c.created_at,
            updated: c.updated_at,
            author: a.display_name.clone(),
            author_url: a.url.clone().unwrap_or_else(|| uris::account(app, &a.name)),
            thumbnail: None,
            enclosure: None,
        });
    }
    let body = render(fmt, &head, &items);
    app.feeds.put(key, body.clone());
    Ok(body)
}

fn rfc2822(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc2822).unwrap_or_default()
}

fn atom_date(ms: i64) -> atom_syndication::FixedDateTime {
    atom_syndication::FixedDateTime::parse_from_rfc3339(&iso8601(ms)).unwrap_or_default()
}

fn render(fmt: Format, head: &Head, items: &[Item]) -> String {
    match fmt {
        Format::Rss => rss_channel(head, items, BTreeMap::new()).to_string(),
        Format::Atom => atom(head, items),
        Format::Json => json_feed(head, items).to_string(),
    }
}

fn ext(name: &str, value: Option<&str>, attrs: &[(&str, String)]) -> rss::extension::Extension {
    rss::extension::Extension {
        name: name.to_string(),
        value: value.map(str::to_string),
        attrs: attrs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        children: BTreeMap::new(),
    }
}

fn add_ext(map: &mut rss::extension::ExtensionMap, prefix: &str, e: rss::extension::Extension) {
    let local = e.name.split(':').next_back().unwrap_or_default().to_string();
    map.entry(prefix.to_string()).or_default().entry(local).or_default().push(e);
}

fn rss_channel(head: &Head, items: &[Item], namespaces: BTreeMap<String, String>) -> rss::Channel {
    let mut ns = namespaces;
    ns.insert("media".into(), "http://search.yahoo.com/mrss/".into());
    ns.insert("atom".into(), "http://www.w3.org/2005/Atom".into());
    let mut channel_ext = rss::extension::ExtensionMap::new();
    add_ext(
        &mut channel_ext,
        "atom",
        ext(
            "atom:link",
            None,
            &[("href", head.url.clone()), ("rel", "self".into()), ("type", "application/rss+xml".into())],
        ),
    );
    rss::Channel {
        title: head.title.clone(),
        link: head.link.clone(),
        description: if head.description.is_empty() { head.title.clone() } else { head.description.clone() },
        generator: Some("Flotilla".into()),
        last_build_date: items.iter().map(|i| i.updated).max().map(rfc2822),
        image: head.image.as_ref().map(|url| rss::Image {
            url: url.clone(),
            title: head.title.clone(),
            link: head.link.clone(),
            ..Default::default()
        }),
        items: items
            .iter()
            .map(|i| {
                let mut extensions = rss::extension::ExtensionMap::new();
                if let Some(t) = &i.thumbnail {
                    add_ext(&mut extensions, "media", ext("media:thumbnail", None, &[("url", t.clone())]));
                }
                rss::Item {
                    title: Some(i.title.clone()),
                    link: Some(i.link.clone()),
                    description: Some(i.html.clone()),
                    guid: Some(rss::Guid { value: i.id.clone(), permalink: false }),
                    pub_date: Some(rfc2822(i.published)),
                    enclosure: i.enclosure.as_ref().map(|(url, mime, len)| rss::Enclosure {
                        url: url.clone(),
                        length: len.to_string(),
                        mime_type: mime.to_string(),
                    }),
                    dublin_core_ext: Some(rss::extension::dublincore::DublinCoreExtension {
                        creators: vec![i.author.clone()],
                        ..Default::default()
                    }),
                    extensions,
                    ..Default::default()
                }
            })
            .collect(),
        namespaces: ns,
        extensions: channel_ext,
        ..Default::default()
    }
}

fn atom(head: &Head, items: &[Item]) -> String {
    use atom_syndication::{Content, Entry, Feed, Link, Person, Text};
    let link = |href: &str, rel: &str, mime: Option<&str>, length: Option<i64>| Link {
        href: href.to_string(),
        rel: rel.to_string(),
        mime_type: mime.map(str::to_string),
        length: length.map(|l| l.to_string()),
        ..Default::default()
    };
    let feed = Feed {
        title: Text::plain(head.title.clone()),
        id: head.url.clone(),
        updated: atom_date(items.iter().map(|i| i.updated).max().unwrap_or(0)),
        links: vec![
            link(&head.link, "alternate", Some("text/html"), None),
            link(&head.url, "self", Some("application/atom+xml"), None),
        ],
        subtitle: (!head.description.is_empty()).then(|| Text::plain(head.description.clone())),
        generator: Some(atom_syndication::Generator { value: "Flotilla".into(), ..Default::default() }),
        entries: items
            .iter()
            .map(|i| {
                let mut links = vec![link(&i.link, "alternate", Some("text/html"), None)];
                if let Some((url, mime, len)) = &i.enclosure {
                    links.push(link(url, "enclosure", Some(mime), Some(*len)));
                }
                Entry {
                    title: Text::plain(i.title.clone()),
                    id: i.id.clone(),
                    updated: atom_date(i.updated),
                    published: Some(atom_date(i.published)),
                    authors: vec![Person {
                        name: i.author.clone(),
                        uri: Some(i.author_url.clone()),
                        ..Default::default()
                    }],
                    links,
                    content: Some(Content {
                        value: Some(i.html.clone()),
                        content_type: Some("html".into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }
            })
            .collect(),
        ..Default::default()
    };
    feed.to_string()
}

fn json_feed(head: &Head, items: &[Item]) -> Value {
    json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": head.title,
        "home_page_url": head.link,
        "feed_url": head.url,
        "description": head.description,
        "items": items.iter().map(|i| {
            let mut item = json!({
                "id": i.id,
                "url": i.link,
                "title": i.title,
                "content_html": i.html,
                "date_published": iso8601(i.published),
                "date_modified": iso8601(i.updated),
                "authors": [{ "name": i.author, "url": i.author_url }],
            });
            if let Some(t) = &i.thumbnail {
                item["image"] = json!(t);
            }
            if let Some((url, mime, len)) = &i.enclosure {
                item["attachments"] = json!([{ "url": url, "mime_type": mime, "size_in_bytes": len }]);
            }
            item
        }).collect::<Vec<_>>(),
    })
}

/// `GET /feeds/podcast/videos.xml?videoChannelId=`: the channel's public videos as podcast
/// episodes (PeerTube's podcast feed): the iTunes tags apps read, and from the Podcasting 2.0
/// namespace the channel's `podcast:guid`, `podcast:locked`, `podcast:medium`, and per episode a
/// `podcast:alternateEnclosure` for each rendition (its web video, or its HLS file), a
/// `podcast:transcript` per caption and `podcast:socialInteract` pointing at the video's
/// ActivityPub id (replies there are its comments).
pub async fn podcast(app: &App, q: &FeedQuery, path: &str) -> Result<String> {
    let key = format!("podcast{path}?{q:?}");
    if let Some(body) = app.feeds.get(&key) {
        return Ok(body);
    }
    let id = q.video_channel_id.ok_or_else(|| Error::invalid("videoChannelId", "videoChannelId is required"))?;
    let c = channels::get(&app.db, flotilla_domain::ChannelId(id)).await?.ok_or_else(|| Error::not_found("channel"))?;
    if !c.host.is_empty() {
        return Err(Error::not_found("channel"));
    }
    let owner = accounts::get(&app.db, c.owner()).await?.ok_or_else(|| Error::not_found("account"))?;
    let f = videos::VideoFilter { public_only: true, channel_id: Some(c.id), ..Default::default() };
    let (rows, _) = videos::list_counted(&app.db, &f, "v.published_at DESC", 0, EPISODES, Some(0), None).await?;
    let items = video_items(app, &rows).await?;
    let base = app.public.base();
    let channel_url = uris::channel(app, &c.name);
    let imgs = flotilla_db::images::list_for(&app.db, &[c.actor_id]).await?;
    let image = crate::convert::images_to_api(app, c.actor_id, "avatar", &imgs)
        .as_array()
        .and_then(|a| a.iter().max_by_key(|i| i["width"].as_i64()))
        .and_then(|i| i["fileUrl"].as_str())
        .map(str::to_string);
    let head = Head {
        title: c.display_name.clone(),
        link: channel_url.clone(),
        description: c.description.clone().unwrap_or_default(),
        url: format!("{base}{path}?videoChannelId={id}"),
        image: image.clone(),
    };
    let mut ns = BTreeMap::new();
    ns.insert("podcast".into(), "https://podcastindex.org/namespace/1.0".into());
    ns.insert("itunes".into(), "http://www.itunes.com/dtds/podcast-1.0.dtd".into());
    let mut channel = rss_channel(&head, &items, ns);
    let mut ext_map = std::mem::take(&mut channel.extensions);
    // A stable GUID for the show, made from its channel's URL (the namespace makes it from the
    // feed's; the channel's URL is what stays if the feed's address changes).
    add_ext(&mut ext_map, "podcast", ext("podcast:guid", Some(&uuid_v5_url(&channel_url)), &[]));
    add_ext(&mut ext_map, "podcast", ext("podcast:locked", Some("no"), &[]));
    add_ext(&mut ext_map, "podcast", ext("podcast:medium", Some("video"), &[]));
    channel.extensions = ext_map;
    channel.itunes_ext = Some(rss::extension::itunes::ITunesChannelExtension {
        author: Some(owner.display_name.clone()),
        image: image.clone(),
        explicit: Some("false".into()),
        summary: c.description.clone(),
        owner: Some(rss::extension::itunes::ITunesOwner { name: Some(owner.display_name.clone()), email: None }),
        ..Default::default()
    });
    for (item, v) in channel.items.iter_mut().zip(&rows) {
        let files = episode_files(app, v.id).await?;
        for (i, f) in files.iter().enumerate() {
            let url = crate::video::files::file_url(app, v, f);
            let mut alt = ext(
                "podcast:alternateEnclosure",
                None,
                &[
                    ("type", if f.resolution == 0 { "audio/mp4".to_string() } else { "video/mp4".to_string() }),
                    ("length", f.size.to_string()),
                    ("bitrate", f.bandwidth.to_string()),
                    ("title", if f.resolution == 0 { "Audio".to_string() } else { format!("{}p", f.resolution) }),
                ],
            );
            if f.resolution > 0 {
                alt.attrs.insert("height".into(), f.height.to_string());
            }
            if i == 0 {
                alt.attrs.insert("default".into(), "true".into());
            }
            alt.children.insert("source".into(), vec![ext("podcast:source", None, &[("uri", url)])]);
            add_ext(&mut item.extensions, "podcast", alt);
        }
        // Captions, as transcripts (PeerTube's podcast feed does the same).
        for c in flotilla_db::captions::of_video(&app.db, v.id).await? {
            let Some(file) = &c.filename else { continue };
            let url = uris::absolute(app, &format!("/lazy-static/video-captions/{file}"));
            let attrs = [
                ("url", url),
                ("type", "text/vtt".into()),
                ("language", c.language.clone()),
                ("rel", "captions".into()),
            ];
            add_ext(&mut item.extensions, "podcast", ext("podcast:transcript", None, &attrs));
        }
        add_ext(
            &mut item.extensions,
            "podcast",
            ext(
                "podcast:socialInteract",
                None,
                &[
                    ("uri", uris::video(app, &v.uuid)),
                    ("protocol", "activitypub".into()),
                    ("accountUrl", uris::account(app, &owner.name)),
                    ("accountId", format!("@{}@{}", owner.name, app.public.host)),
                ],
            ),
        );
        item.itunes_ext = Some(rss::extension::itunes::ITunesItemExtension {
            duration: Some(v.duration.to_string()),
            image: v.thumbnail.as_ref().map(|t| uris::absolute(app, &format!("/lazy-static/thumbnails/{t}"))),
            explicit: Some(if v.nsfw { "true" } else { "false" }.into()),
            ..Default::default()
        });
    }
    let body = channel.to_string();
    app.feeds.put(key, body.clone());
    Ok(body)
}

/// Podcasting 2.0's `podcast:guid`: a name-based UUID (version 5) of the URL without its scheme
/// and trailing slashes, in the namespace the Podcast Index defines.
fn uuid_v5_url(url: &str) -> String {
    use sha1::Digest;
    let name = url.split_once("://").map(|(_, rest)| rest).unwrap_or(url).trim_end_matches('/');
    let ns = uuid::uuid!("ead4c236-bf58-58c6-a2c6-a6b28d128cb6");
    let mut h = sha1::Sha1::new();
    h.update(ns.as_bytes());
    h.update(name.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b).to_string()
}

/// `GET /users/me/feed-token`: the token of the caller's private feeds (made when first asked).
pub async fn feed_token(app: &App, who: &AuthUser) -> Result<Value> {
    let token = match users::feed_token(&app.db, who.id()).await? {
        Some(t) => t,
        None => renew(app, who).await?,
    };
    Ok(json!({ "feedToken": token }))
}

/// `POST /users/me/feed-token`: a new token (the old feed URLs stop working).
pub async fn renew_feed_token(app: &App, who: &AuthUser) -> Result<Value> {
    Ok(json!({ "feedToken": renew(app, who).await? }))
}

async fn renew(app: &App, who: &AuthUser) -> Result<String> {
    let token = crate::auth::random_token(24);
    users::set_feed_token(&app.db, who.id(), &token).await?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    #[test]
    fn podcast_guid_is_the_podcast_index_uuid_v5() {
        // The namespace's own example (Python's uuid.uuid5 agrees).
        assert_eq!(
            super::uuid_v5_url("https://mp3s.nashownotes.com/pc20rss.xml"),
            "917393e3-1b1e-5cef-ace4-edaa54e1f810"
        );
    }
}
