//! Accounts as the API shows them (`GET /api/v1/accounts/:name`).

use flotilla_db::accounts::{self, Account};
use flotilla_db::{channels, images};
use serde_json::{Value, json};

use crate::{App, Error, Result, channel, convert, local_name};

pub async fn view(app: &App, a: &Account) -> Result<Value> {
    let imgs = images::list_for(&app.db, &[a.actor_id]).await?;
    let mut out = convert::account_to_api(app, a, &imgs);
    out["followersCount"] = json!(flotilla_db::follows::count_followers(&app.db, a.actor_id).await?);
    Ok(out)
}

/// An account by its handle (`name`, `name@our-host`, or `name@other-host`); a remote one is
/// found when this instance knows it (the owner of a remote channel it stores).
pub async fn get_by_handle(app: &App, handle: &str) -> Result<Account> {
    let not_found = || Error::not_found("account");
    match local_name(app, handle) {
        Some(name) => accounts::get_local_by_name(&app.db, name).await?.ok_or_else(not_found),
        None => {
            let (name, host) = handle.split_once('@').ok_or_else(not_found)?;
            let actor = flotilla_db::actors::list_by_host(&app.db, &host.to_ascii_lowercase())
                .await?
                .into_iter()
                .find(|a| a.kind == "Person" && a.name == name)
                .ok_or_else(not_found)?;
            accounts::get_by_actor(&app.db, actor.id).await?.ok_or_else(not_found)
        }
    }
}

/// A local account by handle: the only kind this instance serves as an actor or lets anyone edit.
pub async fn get_local(app: &App, handle: &str) -> Result<Account> {
    let name = local_name(app, handle).ok_or_else(|| Error::not_found("account"))?;
    accounts::get_local_by_name(&app.db, name).await?.ok_or_else(|| Error::not_found("account"))
}

/// `GET /api/v1/accounts/:name/video-channels`.
pub async fn channels(app: &App, handle: &str) -> Result<Value> {
    let acc = get_by_handle(app, handle).await?;
    let owner = view(app, &acc).await?;
    let mut data = Vec::new();
    for c in channels::list_by_account(&app.db, acc.account_id()).await? {
        data.push(channel::view_with_owner(app, &c, owner.clone()).await?);
    }
    Ok(json!({ "total": data.len(), "data": data }))
}
