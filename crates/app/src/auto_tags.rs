//! Watched words and automatic tags (PeerTube 6.2: `/watched-words/…`, `/automatic-tags/…`). An
//! account (for comments on its videos) and the instance (for every comment) keep lists of words;
//! a new comment gets, for each, the names of the lists whose words it contains as tags, and the
//! core tag `external-link` when it has a link. An account's policy names the tags that hold a
//! comment on its videos for its review (the instance's tags only sort the moderators' list).
//!
//! Bounds: 100 lists per scope, 500 words of at most 100 characters per list, names of at most 100
//! characters. All of a scope's words are found in one pass over a comment (Aho–Corasick), a word
//! matching only whole (not inside a longer word), case-insensitively.

use std::collections::BTreeSet;

use aho_corasick::AhoCorasick;
use flotilla_db::auto_tags::{self, WordList};
use flotilla_domain::time::{iso8601, now_ms};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::{App, Error, Result};

pub const EXTERNAL_LINK: &str = "external-link";
pub const MAX_LISTS: i64 = 100;
pub const MAX_WORDS: usize = 500;
pub const MAX_WORD_CHARS: usize = 100;
pub const MAX_NAME_CHARS: usize = 100;

/// Whose lists and policy: an account (`name`, a local account: its owner or a moderator) or the
/// instance (moderators).
async fn scope(app: &App, who: &AuthUser, account: Option<&str>) -> Result<Option<i64>> {
    let Some(name) = account else {
        who.require_moderator()?;
        return Ok(None);
    };
    let acc = crate::account::get_local(app, name).await?;
    if acc.user_id != Some(who.user.id) && who.require_moderator().is_err() {
        return Err(Error::Forbidden("only the account's owner or a moderator can do this".into()));
    }
    Ok(Some(acc.id))
}

fn words_of(list: &WordList) -> Vec<String> {
    serde_json::from_str(&list.words).unwrap_or_default()
}

fn view(list: &WordList) -> Value {
    json!({
        "id": list.id, "listName": list.list_name, "words": words_of(list),
        "createdAt": iso8601(list.created_at), "updatedAt": iso8601(list.updated_at),
    })
}

/// `GET /watched-words/accounts/:name/lists`, `/watched-words/server/lists`.
pub async fn lists(app: &App, who: &AuthUser, account: Option<&str>) -> Result<Value> {
    let scope = scope(app, who, account).await?;
    let data: Vec<Value> = auto_tags::lists(&app.db, scope).await?.iter().map(view).collect();
    Ok(json!({ "total": data.len(), "data": data }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListBody {
    pub list_name: Option<String>,
    pub words: Option<Vec<String>>,
}

fn check_name(name: &str) -> Result<String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > MAX_NAME_CHARS || n.chars().any(char::is_control) {
        return Err(Error::invalid("listName", format!("1 to {MAX_NAME_CHARS} characters")));
    }
    if n == EXTERNAL_LINK {
        return Err(Error::invalid("listName", "this name is a core tag's"));
    }
    Ok(n.to_string())
}

fn check_words(words: &[String]) -> Result<String> {
    if words.is_empty() || words.len() > MAX_WORDS {
        return Err(Error::invalid("words", format!("1 to {MAX_WORDS} words")));
    }
    let mut out: Vec<String> = Vec::new();
    for w in words {
        let w = w.trim();
        if w.is_empty() || w.chars().count() > MAX_WORD_CHARS || w.chars().any(char::is_control) {
            return Err(Error::invalid("words", format!("each word is 1 to {MAX_WORD_CHARS} characters")));
        }
        if !out.iter().any(|o| o == w) {
            out.push(w.to_string());
        }
    }
    serde_json::to_string(&out).map_err(|e| Error::Internal(e.to_string()))
}

/// `POST …/lists` (`{"listName", "words"}`): `{"watchedWordsList": {"id"}}`.
pub async fn create_list(app: &App, who: &AuthUser, account: Option<&str>, body: ListBody) -> Result<Value> {
    let scope = scope(app, who, account).await?;
    let name = check_name(body.list_name.as_deref().unwrap_or_default())?;
    let words = check_words(body.words.as_deref().unwrap_or_default())?;
    if auto_tags::count_lists(&app.db, scope).await? >= MAX_LISTS {
        return Err(Error::Conflict(format!("at most {MAX_LISTS} lists")));
    }
    let id = auto_tags::insert(&app.db, scope, &name, &words, now_ms())
        .await?
        .ok_or_else(|| Error::Conflict("a list of this name exists".into()))?;
    Ok(json!({ "watchedWordsList": { "id": id } }))
}

async fn own_list(app: &App, scope: Option<i64>, id: i64) -> Result<WordList> {
    auto_tags::get(&app.db, id)
        .await?
        .filter(|l| l.account_id == scope)
        .ok_or_else(|| Error::not_found("watched words list"))
}

/// `PUT …/lists/:id` (`{"listName"?, "words"?}`).
pub async fn update_list(app: &App, who: &AuthUser, account: Option<&str>, id: i64, body: ListBody) -> Result<()> {
    let scope = scope(app, who, account).await?;
    let list = own_list(app, scope, id).await?;
    let name = match body.list_name.as_deref() {
        Some(n) => check_name(n)?,
        None => list.list_name.clone(),
    };
    let words = match body.words.as_deref() {
        Some(w) => check_words(w)?,
        None => list.words.clone(),
    };
    if name != list.list_name && auto_tags::lists(&app.db, scope).await?.iter().any(|l| l.list_name == name) {
        return Err(Error::Conflict("a list of this name exists".into()));
    }
    auto_tags::update(&app.db, list.id, &name, &words, now_ms()).await?;
    Ok(())
}

/// `DELETE …/lists/:id`.
pub async fn delete_list(app: &App, who: &AuthUser, account: Option<&str>, id: i64) -> Result<()> {
    let scope = scope(app, who, account).await?;
    let list = own_list(app, scope, id).await?;
    auto_tags::delete(&app.db, list.id).await?;
    Ok(())
}

/// The tags a scope can use: the core one and its lists' names.
async fn available_names(app: &App, scope: Option<i64>) -> Result<Vec<(String, &'static str)>> {
    let mut out = vec![(EXTERNAL_LINK.to_string(), "core")];
    for l in auto_tags::lists(&app.db, scope).await? {
        out.push((l.list_name, "watched-words-list"));
    }
    Ok(out)
}

/// `GET /automatic-tags/accounts/:name/available`, `/automatic-tags/server/available`.
pub async fn available(app: &App, who: &AuthUser, account: Option<&str>) -> Result<Value> {
    let scope = scope(app, who, account).await?;
    let list: Vec<Value> =
        available_names(app, scope).await?.into_iter().map(|(n, t)| json!({ "name": n, "type": t })).collect();
    Ok(json!({ "available": list }))
}

/// `GET /automatic-tags/policies/accounts/:name/comments`: `{"review": [tags]}`.
pub async fn policies(app: &App, who: &AuthUser, account: &str) -> Result<Value> {
    let scope = scope(app, who, Some(account)).await?.ok_or_else(|| Error::not_found("account"))?;
    Ok(json!({ "review": auto_tags::review_tags(&app.db, scope).await? }))
}

/// `PUT /automatic-tags/policies/accounts/:name/comments` (`{"review": [tags]}`, tags it can use).
pub async fn set_policies(app: &App, who: &AuthUser, account: &str, review: &[String]) -> Result<()> {
    let scope = scope(app, who, Some(account)).await?.ok_or_else(|| Error::not_found("account"))?;
    let known = available_names(app, Some(scope)).await?;
    let mut tags: Vec<String> = Vec::new();
    for t in review {
        if !known.iter().any(|(n, _)| n == t) {
            return Err(Error::invalid(
                "review",
                format!("'{}' is not a tag of this account", t.chars().take(100).collect::<String>()),
            ));
        }
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    let mut tx = app.db.begin().await?;
    auto_tags::set_review_tags(&mut tx, scope, &tags).await?;
    tx.commit().await?;
    Ok(())
}

/// The tags of a new comment: for the video owner's account and for the instance, and whether the
/// owner's policy holds it for review.
#[derive(Debug, Default)]
pub struct Tagging {
    pub owner: Option<i64>,
    pub owner_tags: Vec<String>,
    pub server_tags: Vec<String>,
    pub review: bool,
}

/// Whether a text has a link.
fn has_link(text: &str) -> bool {
    let t = text.to_lowercase();
    t.contains("http://") || t.contains("https://")
}

/// The names of the lists whose words `text` contains, each word whole (its neighbours are not
/// letters or digits), case-insensitively.
pub fn matching(text: &str, lists: &[(String, Vec<String>)]) -> BTreeSet<String> {
    let mut patterns: Vec<String> = Vec::new();
    let mut owner: Vec<usize> = Vec::new();
    for (i, (_, words)) in lists.iter().enumerate() {
        for w in words {
            patterns.push(w.to_lowercase());
            owner.push(i);
        }
    }
    let mut found = BTreeSet::new();
    if patterns.is_empty() {
        return found;
    }
    let Ok(ac) = AhoCorasick::new(&patterns) else { return found };
    let text = text.to_lowercase();
    let word_char = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    for m in ac.find_overlapping_iter(&text) {
        let before = text[..m.start()].chars().next_back();
        let after = text[m.end()..].chars().next();
        let pattern = &patterns[m.pattern().as_usize()];
        // A word that starts or ends with a letter must not be part of a longer word.
        let starts_word = pattern.chars().next().is_some_and(char::is_alphanumeric);
        let ends_word = pattern.chars().next_back().is_some_and(char::is_alphanumeric);
        if (starts_word && word_char(before)) || (ends_word && word_char(after)) {
            continue;
        }
        found.insert(lists[owner[m.pattern().as_usize()]].0.clone());
    }
    found
}

/// Tags a new comment's `text` under a video of `owner` (an account; `None` for another server's
/// video, which only the instance's lists tag).
pub async fn tag(app: &App, text: &str, owner: Option<i64>) -> Result<Tagging> {
    let all = auto_tags::lists_for(&app.db, owner).await?;
    let link = has_link(text);
    let split = |scope: Option<i64>| -> Vec<(String, Vec<String>)> {
        all.iter().filter(|l| l.account_id == scope).map(|l| (l.list_name.clone(), words_of(l))).collect()
    };
    let mut server_tags: Vec<String> = matching(text, &split(None)).into_iter().collect();
    let mut owner_tags: Vec<String> = match owner {
        Some(o) => matching(text, &split(Some(o))).into_iter().collect(),
        None => Vec::new(),
    };
    if link {
        server_tags.insert(0, EXTERNAL_LINK.to_string());
        if owner.is_some() {
            owner_tags.insert(0, EXTERNAL_LINK.to_string());
        }
    }
    let review = match owner {
        Some(o) if !owner_tags.is_empty() => {
            let policy = auto_tags::review_tags(&app.db, o).await?;
            owner_tags.iter().any(|t| policy.contains(t))
        }
        _ => false,
    };
    Ok(Tagging { owner, owner_tags, server_tags, review })
}

/// Stores a comment's tags, in the transaction that stores the comment.
pub async fn record(tx: &mut flotilla_db::Tx, comment: i64, t: &Tagging) -> Result<()> {
    for tag in &t.server_tags {
        auto_tags::tag(tx, comment, None, tag).await?;
    }
    if let Some(o) = t.owner {
        for tag in &t.owner_tags {
            auto_tags::tag(tx, comment, Some(o), tag).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists() -> Vec<(String, Vec<String>)> {
        vec![
            ("spam".into(), vec!["Buy now".into(), "casino".into()]),
            ("rude".into(), vec!["idiot".into(), "@#!".into()]),
        ]
    }

    #[test]
    fn whole_words_match_in_any_case() {
        assert_eq!(matching("Please BUY NOW, it's great", &lists()), BTreeSet::from(["spam".to_string()]));
        assert_eq!(matching("casinos are fine, idioticly", &lists()), BTreeSet::new(), "parts of words do not match");
        assert_eq!(
            matching("what an idiot… and a casino", &lists()),
            BTreeSet::from(["rude".to_string(), "spam".to_string()])
        );
        assert_eq!(matching("oh @#!", &lists()), BTreeSet::from(["rude".to_string()]), "symbols match as they are");
        assert_eq!(matching("Élan: ÉCOLE", &[("fr".into(), vec!["école".into()])]), BTreeSet::from(["fr".to_string()]));
        assert!(matching("anything", &[]).is_empty());
    }

    #[test]
    fn links_are_seen() {
        assert!(has_link("see HTTPS://example.org"));
        assert!(!has_link("see example.org"));
    }
}
