//! Blocklists (PeerTube's `/users/me/blocklist/…` and `/server/blocklist/…`): accounts and
//! servers a user mutes for themselves, and those moderators block for the whole instance.
//!
//! What a block does: the content of a muted account or server (its videos in lists and search,
//! its comments, the notifications it causes) is hidden from the user, or from everyone for the
//! instance's blocks. A server blocked by the instance is also never contacted (the fetcher's
//! [`flotilla_federation::blocklist::Domains`]) and its deliveries are refused by the inbox before
//! any work ([`refuses`]); an account blocked by the instance cannot deliver either. Nothing is
//! deleted: unblocking shows again what was kept.
//!
//! Lists hide by account: the accounts a scope hides (those blocked, those of blocked servers)
//! are computed when the instance's list changes (kept in memory: every anonymous list needs
//! them) and per user on demand (kept a minute: a user's mutes change rarely, and a muted
//! server's accounts learnt meanwhile show up within that minute).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use flotilla_db::{accounts, blocklist as db};
use flotilla_domain::time::{iso8601, now_ms};
use flotilla_federation::blocklist::normalize;
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::{App, Error, Result};

/// How long a user's hidden accounts are remembered.
const USER_TTL: Duration = Duration::from_secs(60);
/// At most this many users' hidden accounts are remembered.
const USER_CACHE: usize = 10_000;
/// At most this many accounts or hosts in one `GET /blocklist/status`.
pub const MAX_STATUS_KEYS: usize = 100;
/// At most this many lines in an imported list of domains.
pub const MAX_IMPORT_LINES: usize = 10_000;

/// What the instance hides, and each user's, in memory.
#[derive(Default)]
pub struct Blocks {
    instance: RwLock<Arc<InstanceBlocks>>,
    users: Mutex<HashMap<i64, Remembered>>,
    /// The users who mute anything: only their videos' comments need their mutes looked up.
    muting: RwLock<Arc<HashSet<i64>>>,
}

/// A user's hidden accounts and when they were read.
type Remembered = (Instant, Arc<Vec<i64>>);

#[derive(Default)]
struct InstanceBlocks {
    /// Accounts whose content is hidden from everyone, sorted.
    hidden: Arc<Vec<i64>>,
    /// URLs of the remote actors blocked (their deliveries are refused).
    actor_urls: HashSet<String>,
}

/// Who a block is for.
#[derive(Clone, Copy)]
pub enum Scope<'a> {
    /// The user's own mutes.
    Mine(&'a AuthUser),
    /// The instance's blocks: moderators and admins.
    Server(&'a AuthUser),
}

impl Scope<'_> {
    fn user(&self) -> Option<i64> {
        match self {
            Scope::Mine(w) => Some(w.user.id),
            Scope::Server(_) => None,
        }
    }

    fn who(&self) -> &AuthUser {
        match self {
            Scope::Mine(w) | Scope::Server(w) => w,
        }
    }

    fn check(&self) -> Result<()> {
        match self {
            Scope::Mine(_) => Ok(()),
            Scope::Server(w) => w.require_moderator(),
        }
    }
}

/// Reads the instance's blocks into memory (at start and after each change).
pub async fn reload(app: &App) -> Result<()> {
    let domains = db::domains(&app.db, None).await?;
    app.fetcher.blocked_domains().replace(domains);
    let hidden = db::hidden_accounts(&app.db, None).await?;
    let mut actor_urls = HashSet::new();
    for actor in db::actors(&app.db, None).await? {
        if let Some(a) = flotilla_db::actors::get(&app.db, actor).await? {
            actor_urls.insert(a.url);
        }
    }
    *app.blocks.instance.write().unwrap_or_else(|p| p.into_inner()) =
        Arc::new(InstanceBlocks { hidden: Arc::new(hidden), actor_urls });
    app.blocks.users.lock().unwrap_or_else(|p| p.into_inner()).clear();
    reload_muting(app).await
}

/// A user's own blocklist changed (here or in another process: `changes`).
pub async fn user_changed(app: &App, user: i64) -> Result<()> {
    app.blocks.users.lock().unwrap_or_else(|p| p.into_inner()).remove(&user);
    reload_muting(app).await
}

async fn reload_muting(app: &App) -> Result<()> {
    let muting: HashSet<i64> = db::muting_users(&app.db).await?.into_iter().collect();
    *app.blocks.muting.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(muting);
    Ok(())
}

/// The accounts whose comments under `v` the viewer `user` must not see: what the instance and
/// the viewer hide, and what the video's owner mutes (as PeerTube: an owner's mute keeps the muted
/// account out of the comments under their videos for everyone).
pub async fn hidden_under(app: &App, user: Option<i64>, v: &flotilla_db::videos::Video) -> Result<Arc<Vec<i64>>> {
    let mine = hidden_for(app, user).await?;
    let anyone_mutes = !app.blocks.muting.read().unwrap_or_else(|p| p.into_inner()).is_empty();
    if !anyone_mutes || !v.is_local() {
        return Ok(mine);
    }
    let Some(owner) = crate::video::owner_user(app, v).await? else { return Ok(mine) };
    if Some(owner) == user || !app.blocks.muting.read().unwrap_or_else(|p| p.into_inner()).contains(&owner) {
        return Ok(mine);
    }
    let theirs = hidden_for(app, Some(owner)).await?;
    let mut all: Vec<i64> = mine.iter().chain(theirs.iter()).copied().collect();
    all.sort_unstable();
    all.dedup();
    Ok(Arc::new(all))
}

fn instance(app: &App) -> Arc<InstanceBlocks> {
    app.blocks.instance.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Whether the inbox refuses what this server sends (the instance blocks it).
pub fn refuses_host(app: &App, host: &str) -> bool {
    app.fetcher.blocked_domains().blocks(host)
}

/// Whether the inbox refuses what this actor signs or sends: its server or itself is blocked.
pub fn refuses(app: &App, actor_url: &str) -> bool {
    crate::federation::remote::host(actor_url).is_some_and(|h| refuses_host(app, &h))
        || instance(app).actor_urls.contains(actor_url)
}

/// The accounts whose content `user` must not see (the instance's blocks and the user's own
/// mutes), sorted; the instance's alone for nobody.
pub async fn hidden_for(app: &App, user: Option<i64>) -> Result<Arc<Vec<i64>>> {
    let inst = instance(app).hidden.clone();
    let Some(user) = user else { return Ok(inst) };
    if let Some((at, ids)) = app.blocks.users.lock().unwrap_or_else(|p| p.into_inner()).get(&user)
        && at.elapsed() < USER_TTL
    {
        return Ok(ids.clone());
    }
    let ids = if db::has_any(&app.db, user).await? {
        let mut ids: Vec<i64> = db::hidden_accounts(&app.db, Some(user)).await?;
        ids.extend(inst.iter().copied());
        ids.sort_unstable();
        ids.dedup();
        Arc::new(ids)
    } else {
        inst
    };
    let mut users = app.blocks.users.lock().unwrap_or_else(|p| p.into_inner());
    if users.len() >= USER_CACHE {
        users.retain(|_, (at, _)| at.elapsed() < USER_TTL);
        if users.len() >= USER_CACHE {
            users.clear();
        }
    }
    users.insert(user, (Instant::now(), ids.clone()));
    Ok(ids)
}

/// Whether `user` (or, for `None`, everyone) must not see what `account` (an account id) does.
pub async fn hides(app: &App, user: Option<i64>, account: i64) -> Result<bool> {
    Ok(hidden_for(app, user).await?.binary_search(&account).is_ok())
}

/// `POST …/blocklist/accounts` (`accountName`: `name` or `name@host`, an account known here).
pub async fn block_account(app: &App, scope: Scope<'_>, name: &str) -> Result<()> {
    scope.check()?;
    let acc = account_named(app, name).await?;
    let who = scope.who();
    match scope {
        Scope::Mine(_) if acc.user_id == Some(who.user.id) => {
            // PeerTube's answer: 409.
            return Err(Error::Conflict("you cannot mute yourself".into()));
        }
        Scope::Server(_) => {
            if let Some(u) = acc.user_id
                && let Some(user) = flotilla_db::users::get(&app.db, flotilla_domain::UserId(u)).await?
                && user.role != flotilla_domain::Role::User as i64
            {
                return Err(Error::Forbidden("the accounts of administrators and moderators cannot be blocked".into()));
            }
        }
        Scope::Mine(_) => {}
    }
    db::add_account(&app.db, scope.user(), acc.actor_id, now_ms()).await?;
    changed(app, scope).await
}

/// `DELETE …/blocklist/accounts/:accountName`.
pub async fn unblock_account(app: &App, scope: Scope<'_>, name: &str) -> Result<()> {
    scope.check()?;
    let acc = account_named(app, name).await?;
    if !db::remove_account(&app.db, scope.user(), acc.actor_id).await? {
        return Err(Error::not_found("blocked account"));
    }
    changed(app, scope).await
}

/// `POST …/blocklist/servers` (`host`: a domain, known here or not).
pub async fn block_server(app: &App, scope: Scope<'_>, host: &str) -> Result<()> {
    scope.check()?;
    let host = server_named(app, host)?;
    db::add_server(&app.db, scope.user(), &host, now_ms()).await?;
    changed(app, scope).await
}

/// `DELETE …/blocklist/servers/:host`.
pub async fn unblock_server(app: &App, scope: Scope<'_>, host: &str) -> Result<()> {
    scope.check()?;
    let host = normalize(host).ok_or_else(|| Error::not_found("blocked server"))?;
    if !db::remove_server(&app.db, scope.user(), &host).await? {
        return Err(Error::not_found("blocked server"));
    }
    changed(app, scope).await
}

async fn changed(app: &App, scope: Scope<'_>) -> Result<()> {
    match scope {
        Scope::Server(_) => {
            crate::changes::tell(app, crate::changes::Change::Blocks).await;
            Ok(())
        }
        Scope::Mine(w) => {
            crate::changes::tell(app, crate::changes::Change::UserBlocks(w.user.id)).await;
            Ok(())
        }
    }
}

async fn account_named(app: &App, name: &str) -> Result<accounts::Account> {
    if name.is_empty() || name.len() > 300 {
        return Err(Error::invalid("accountName", "an account is named `name` or `name@host`"));
    }
    crate::account::get_by_handle(app, name).await
}

fn server_named(app: &App, host: &str) -> Result<String> {
    let host = normalize(host)
        .ok_or_else(|| Error::invalid("host", "a server is named by its domain, such as video.example.org"))?;
    if host == app.public.host {
        return Err(Error::Conflict("this instance cannot block itself".into()));
    }
    Ok(host)
}

/// The account that stands for a scope in lists (`byAccount`): the user's, or for the instance
/// its application actor, as PeerTube shows its `peertube` account.
async fn by_account(app: &App, scope: Scope<'_>) -> Result<Value> {
    match scope {
        Scope::Mine(w) => {
            let acc = accounts::get_by_user(&app.db, w.id()).await?.ok_or_else(|| Error::not_found("account"))?;
            crate::account::view(app, &acc).await
        }
        Scope::Server(_) => {
            let name = crate::ap::INSTANCE_ACTOR;
            Ok(json!({
                "url": crate::uris::account(app, name), "name": name, "host": app.public.host, "avatars": [],
                "displayName": name, "description": null,
            }))
        }
    }
}

/// `GET …/blocklist/accounts`.
pub async fn list_accounts(app: &App, scope: Scope<'_>, page: flotilla_db::Page) -> Result<Value> {
    scope.check()?;
    let (rows, total) = db::list_accounts(&app.db, scope.user(), page.start, page.count).await?;
    let by = by_account(app, scope).await?;
    let mut data = Vec::new();
    for r in rows {
        let Some(acc) = accounts::get_by_actor(&app.db, r.target_actor_id).await? else { continue };
        data.push(json!({
            "byAccount": by, "blockedAccount": crate::account::view(app, &acc).await?,
            "createdAt": iso8601(r.created_at),
        }));
    }
    Ok(json!({ "total": total, "data": data }))
}

/// `GET …/blocklist/servers`.
pub async fn list_servers(app: &App, scope: Scope<'_>, page: flotilla_db::Page) -> Result<Value> {
    scope.check()?;
    let (rows, total) = db::list_servers(&app.db, scope.user(), page.start, page.count).await?;
    let by = by_account(app, scope).await?;
    let data: Vec<Value> = rows
        .into_iter()
        .map(|r| json!({ "byAccount": by, "blockedServer": { "host": r.host }, "createdAt": iso8601(r.created_at) }))
        .collect();
    Ok(json!({ "total": total, "data": data }))
}

/// `GET /api/v1/blocklist/status?accounts=…&hosts=…`: for each account handle and host asked,
/// whether the instance blocks it and whether the caller mutes it (only the instance's for
/// anonymous callers). At most [`MAX_STATUS_KEYS`] of each.
pub async fn status(app: &App, who: Option<&AuthUser>, accounts_asked: &[String], hosts: &[String]) -> Result<Value> {
    if accounts_asked.len() > MAX_STATUS_KEYS || hosts.len() > MAX_STATUS_KEYS {
        return Err(Error::invalid(
            "accounts",
            format!("at most {MAX_STATUS_KEYS} accounts and {MAX_STATUS_KEYS} hosts"),
        ));
    }
    let user = who.map(|w| w.user.id);
    let server_domains: HashSet<String> = db::domains(&app.db, None).await?.into_iter().collect();
    let user_domains: HashSet<String> = match user {
        Some(u) => db::domains(&app.db, Some(u)).await?.into_iter().collect(),
        None => HashSet::new(),
    };
    let server_actors: HashSet<i64> = db::actors(&app.db, None).await?.into_iter().collect();
    let user_actors: HashSet<i64> = match user {
        Some(u) => db::actors(&app.db, Some(u)).await?.into_iter().collect(),
        None => HashSet::new(),
    };
    let covered = flotilla_federation::blocklist::covered;
    let mut out_accounts = serde_json::Map::new();
    for handle in accounts_asked {
        if handle.len() > 300 {
            return Err(Error::invalid("accounts", "an account is named `name@host`"));
        }
        let (by_server, by_user) = match crate::account::get_by_handle(app, handle).await {
            Ok(acc) => {
                let host = if acc.host.is_empty() { app.public.host.clone() } else { acc.host.clone() };
                (
                    server_actors.contains(&acc.actor_id) || (!acc.host.is_empty() && covered(&server_domains, &host)),
                    user_actors.contains(&acc.actor_id) || (!acc.host.is_empty() && covered(&user_domains, &host)),
                )
            }
            Err(Error::NotFound(_)) => (false, false),
            Err(e) => return Err(e),
        };
        out_accounts.insert(handle.clone(), json!({ "blockedByServer": by_server, "blockedByUser": by_user }));
    }
    let mut out_hosts = serde_json::Map::new();
    for h in hosts {
        let (by_server, by_user) = match normalize(h) {
            Some(n) => (covered(&server_domains, &n), covered(&user_domains, &n)),
            None => (false, false),
        };
        out_hosts.insert(h.clone(), json!({ "blockedByServer": by_server, "blockedByUser": by_user }));
    }
    Ok(json!({ "accounts": out_accounts, "hosts": out_hosts }))
}

/// `GET /api/v1/server/blocklist/servers/export`: the instance's blocked domains as the CSV
/// Mastodon admins share (`#domain,#severity,…`; every block here is a suspension).
pub async fn export_servers(app: &App, who: &AuthUser) -> Result<String> {
    who.require_moderator()?;
    let mut out = String::from("#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n");
    for d in db::domains(&app.db, None).await? {
        out.push_str(&d);
        out.push_str(",suspend,true,true,,false\n");
    }
    Ok(out)
}

/// `POST /api/v1/server/blocklist/servers/import`: blocks the domains of a CSV (Mastodon's
/// export, with or without its header; or one domain per line). Lines of severity `silence` or
/// `noop` are skipped (we have no such half-blocks), obfuscated or invalid domains are listed
/// back. All or nothing: the valid ones are added in one transaction.
pub async fn import_servers(app: &App, who: &AuthUser, text: &str) -> Result<Value> {
    who.require_moderator()?;
    let mut valid = Vec::new();
    let mut invalid = Vec::new();
    let mut skipped = Vec::new();
    let mut header: Option<Vec<String>> = None;
    for (n, line) in text.lines().enumerate() {
        if n >= MAX_IMPORT_LINES {
            return Err(Error::invalid("file", format!("at most {MAX_IMPORT_LINES} lines")));
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let cells: Vec<String> = line.split(',').map(|c| c.trim().trim_matches('"').to_ascii_lowercase()).collect();
        if header.is_none() && n == 0 && cells.iter().any(|c| c == "#domain" || c == "domain") {
            header = Some(cells.iter().map(|c| c.trim_start_matches('#').to_string()).collect());
            continue;
        }
        let col = |name: &str, default: usize| -> Option<&String> {
            let i = header.as_ref().and_then(|h| h.iter().position(|c| c == name)).unwrap_or(default);
            cells.get(i)
        };
        let Some(domain) = col("domain", 0) else { continue };
        if domain.starts_with('#') {
            continue;
        }
        if header.is_some() && col("severity", 1).is_some_and(|s| s == "silence" || s == "noop") {
            skipped.push(domain.clone());
            continue;
        }
        match normalize(domain) {
            Some(d) if d != app.public.host => valid.push(d),
            _ => invalid.push(domain.chars().take(100).collect::<String>()),
        }
    }
    let mut tx = app.db.begin().await?;
    let mut added = 0;
    let now = now_ms();
    for d in &valid {
        if db::add_server(&mut tx, None, d, now).await? {
            added += 1;
        }
    }
    tx.commit().await?;
    crate::changes::tell(app, crate::changes::Change::Blocks).await;
    Ok(json!({ "added": added, "alreadyBlocked": valid.len() - added, "skipped": skipped, "invalid": invalid }))
}
