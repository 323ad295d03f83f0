//! A user's subscriptions: follows of channels by the user's account, local or on other servers
//! (PeerTube's `/api/v1/users/me/subscriptions`). A remote channel gets a signed Follow and sends
//! its new videos to us from then on.

use flotilla_db::{accounts, channels, follows};
use flotilla_domain::time::now_ms;
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::federation::{delivery, remote, videos};
use crate::{App, Error, Result, uris};

/// `name@host` → `(name, Some(host))`, or `(name, None)` for a local handle.
fn split(app: &App, handle: &str) -> Result<(String, Option<String>)> {
    let h = handle.trim().trim_start_matches('@');
    if h.is_empty() || h.contains(['/', ' ']) {
        return Err(Error::invalid("uri", "expected a channel handle such as name@host"));
    }
    Ok(match h.split_once('@') {
        Some((n, host)) if host.eq_ignore_ascii_case(&app.public.host) => (n.to_string(), None),
        Some((n, host)) => (n.to_string(), Some(host.to_ascii_lowercase())),
        None => (h.to_string(), None),
    })
}

async fn my_account(app: &App, who: &AuthUser) -> Result<accounts::Account> {
    accounts::get_by_user(&app.db, who.id()).await?.ok_or_else(|| Error::not_found("account"))
}

/// `POST /api/v1/users/me/subscriptions {uri}`.
pub async fn subscribe(app: &App, who: &AuthUser, uri: &str) -> Result<()> {
    let me = my_account(app, who).await?;
    let (name, host) = split(app, uri)?;
    match host {
        None => {
            let c =
                channels::get_local_by_name(&app.db, &name).await?.ok_or_else(|| Error::not_found("video channel"))?;
            let mut tx = app.db.begin().await?;
            let before = follows::get_pair(&mut tx, me.actor_id, c.actor_id).await?;
            let row = follows::upsert(&mut tx, me.actor_id, c.actor_id, "accepted", None, now_ms()).await?;
            if before.is_none() {
                crate::events::record(&mut tx, crate::events::Event::ActorFollowed { follow_id: row }).await?;
            }
            tx.commit().await?;
            app.wake_jobs();
        }
        Some(host) => {
            let actor = remote::actor_by_handle(app, &name, &host).await?;
            if actor.kind != "Group" {
                return Err(Error::invalid("uri", format!("{name}@{host} is not a channel")));
            }
            videos::remote_channel(app, &actor.url).await?;
            let me_url = uris::account(app, &me.name);
            let activity_id = format!("{me_url}/follows/{}", uuid::Uuid::new_v4());
            let follow = json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "type": "Follow",
                "id": activity_id,
                "actor": me_url,
                "object": actor.url,
            });
            let mut tx = app.db.begin().await?;
            follows::upsert(&mut tx, me.actor_id, actor.id, "pending", Some(&activity_id), now_ms()).await?;
            delivery::enqueue(&mut tx, me.actor_id, &follow, std::slice::from_ref(&actor.inbox)).await?;
            tx.commit().await?;
            app.wake_jobs();
        }
    }
    Ok(())
}

/// The follow row of a subscription by handle, with the channel's actor.
async fn find(
    app: &App,
    me: &accounts::Account,
    handle: &str,
) -> Result<Option<(follows::Follow, Option<flotilla_db::actors::RemoteActor>)>> {
    let (name, host) = split(app, handle)?;
    let (actor_id, remote) = match host {
        None => match channels::get_local_by_name(&app.db, &name).await? {
            Some(c) => (c.actor_id, None),
            None => return Ok(None),
        },
        Some(host) => match flotilla_db::actors::list_by_host(&app.db, &host)
            .await?
            .into_iter()
            .find(|a| a.name == name && a.kind == "Group")
        {
            Some(a) => (a.id, Some(a)),
            None => return Ok(None),
        },
    };
    Ok(follows::get_pair(&app.db, me.actor_id, actor_id).await?.map(|f| (f, remote)))
}

/// `DELETE /api/v1/users/me/subscriptions/:handle`.
pub async fn unsubscribe(app: &App, who: &AuthUser, handle: &str) -> Result<()> {
    let me = my_account(app, who).await?;
    let Some((f, remote)) = find(app, &me, handle).await? else {
        return Err(Error::not_found("subscription"));
    };
    let mut tx = app.db.begin().await?;
    follows::delete_pair(&mut tx, f.follower_id, f.target_id).await?;
    if let Some(target) = remote {
        let me_url = uris::account(app, &me.name);
        let undo = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "type": "Undo",
            "id": format!("{me_url}/follows/{}/undo", f.id),
            "actor": me_url,
            "object": { "type": "Follow", "id": f.activity_id, "actor": me_url, "object": target.url },
        });
        delivery::enqueue(&mut tx, me.actor_id, &undo, std::slice::from_ref(&target.inbox)).await?;
    }
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// `GET /api/v1/users/me/subscriptions`: the channels, as `VideoChannel`s.
pub async fn list(app: &App, who: &AuthUser, page: flotilla_db::Page) -> Result<Value> {
    let me = my_account(app, who).await?;
    let (rows, total) = channels::list_followed_by(&app.db, me.actor_id, page.start, page.count).await?;
    let mut data = Vec::new();
    for c in &rows {
        data.push(crate::channel::view(app, c).await?);
    }
    Ok(json!({ "total": total, "data": data }))
}

/// `GET /api/v1/users/me/subscriptions/exist?uris=a@h,b@h` → `{"a@h": true, …}`.
pub async fn exist(app: &App, who: &AuthUser, uris: &[String]) -> Result<Value> {
    let me = my_account(app, who).await?;
    let mut out = serde_json::Map::new();
    for u in uris {
        let found = find(app, &me, u).await.ok().flatten().is_some();
        out.insert(u.clone(), Value::Bool(found));
    }
    Ok(Value::Object(out))
}
