//! Chapters (PeerTube 6.0's `/videos/{id}/chapters`): titled timecodes. Set by the video's
//! manager, or read from its description's timestamps as PeerTube reads them — and then they
//! follow the description, as long as they are still what the old description said.
//!
//! Federated as PeerTube does: the `Video` object's `hasParts` names
//! `<video url>/chapters`, a `Chapters` document whose `hasPart` lists `{name, startOffset,
//! endOffset}`; a remote video's are fetched from there after each `Create` or `Update`.

use std::sync::Arc;

use flotilla_db::{chapters, videos};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::jobs::Failure;
use crate::{App, Error, Result};

/// PeerTube's limit on a chapter's title.
pub const MAX_TITLE: usize = 100;
/// Chapters a video may have (PeerTube sets none; a list must be bounded).
pub const MAX_CHAPTERS: usize = 500;

#[derive(Debug, Deserialize)]
pub struct ChapterIn {
    pub timecode: i64,
    pub title: String,
}

#[derive(Debug, Deserialize)]
pub struct ChaptersIn {
    pub chapters: Vec<ChapterIn>,
}

fn to_api(list: &[(i64, String)]) -> Value {
    json!({ "chapters": list.iter().map(|(t, title)| json!({ "timecode": t, "title": title })).collect::<Vec<_>>() })
}

/// `GET /api/v1/videos/{id}/chapters`
pub async fn get(
    app: &App,
    who: Option<&AuthUser>,
    key: &str,
    attempt: &crate::video::passwords::Attempt,
) -> Result<Value> {
    let v = crate::video::open(app, who, key, attempt).await?;
    Ok(to_api(&chapters::of_video(&app.db, v.id).await?))
}

/// Checks a list of chapters: titles of 1 to 100 characters, timecodes from 0 to the video's
/// duration, each once; sorted by timecode.
fn checked(list: Vec<ChapterIn>, duration: i64) -> Result<Vec<(i64, String)>> {
    if list.len() > MAX_CHAPTERS {
        return Err(Error::invalid("chapters", format!("a video has at most {MAX_CHAPTERS} chapters")));
    }
    let mut out: Vec<(i64, String)> = Vec::with_capacity(list.len());
    for c in list {
        let title = c.title.trim();
        if title.is_empty() || title.chars().count() > MAX_TITLE {
            return Err(Error::invalid("chapters", format!("a chapter's title has 1 to {MAX_TITLE} characters")));
        }
        if c.timecode < 0 || (duration > 0 && c.timecode > duration) {
            return Err(Error::invalid(
                "chapters",
                format!("a chapter's timecode is between 0 and {duration} seconds"),
            ));
        }
        if out.iter().any(|(t, _)| *t == c.timecode) {
            return Err(Error::invalid("chapters", format!("two chapters start at {} s", c.timecode)));
        }
        out.push((c.timecode, title.to_string()));
    }
    out.sort_by_key(|c| c.0);
    Ok(out)
}

/// `PUT /api/v1/videos/{id}/chapters`
pub async fn put(app: &App, who: &AuthUser, key: &str, body: ChaptersIn) -> Result<()> {
    let v = crate::video::edit::editable(app, who, key).await?;
    if !v.is_local() {
        return Err(Error::Forbidden("a remote video's chapters are its server's".into()));
    }
    let list = checked(body.chapters, v.duration)?;
    let was_federated = crate::ap::federates(app, &v);
    let mut tx = app.db.begin().await?;
    chapters::replace(&mut tx, v.id, &list).await?;
    crate::events::record(&mut tx, crate::events::Event::VideoUpdated { video_id: v.id, was_federated }).await?;
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// `h:mm:ss`, `mm:ss` or `ss` in seconds.
fn seconds(s: &str) -> Option<i64> {
    let mut total = 0i64;
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() > 3 {
        return None;
    }
    for p in parts {
        if p.is_empty() || p.len() > 4 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        total = total * 60 + p.parse::<i64>().ok()?;
    }
    Some(total)
}

/// The chapters a description announces, as PeerTube reads them: lines `<timecode> <title>`, from
/// one at 0 on, until a line that is not one; only when there are at least two.
pub fn from_description(text: &str) -> Vec<(i64, String)> {
    let mut out: Vec<(i64, String)> = Vec::new();
    let mut found_zero = false;
    for line in text.lines() {
        let parsed = line.split_once(' ').and_then(|(t, title)| Some((seconds(t)?, title.trim())));
        let Some((timecode, title)) = parsed.filter(|(_, title)| !title.is_empty()) else {
            if found_zero {
                break;
            }
            continue;
        };
        if timecode == 0 {
            if found_zero {
                break;
            }
            found_zero = true;
        }
        if !found_zero || out.iter().any(|(t, _)| *t == timecode) {
            continue;
        }
        out.push((timecode, title.chars().take(MAX_TITLE).collect()));
        if out.len() >= MAX_CHAPTERS {
            break;
        }
    }
    out.sort_by_key(|c| c.0);
    if out.len() > 1 { out } else { Vec::new() }
}

/// In the transaction that changes a local video's description (or creates it): its chapters
/// follow the new description when they are what the old one announced (none set by hand).
pub async fn follow_description(
    tx: &mut flotilla_db::Tx,
    video_id: i64,
    old: Option<&str>,
    new: Option<&str>,
) -> Result<()> {
    let before = from_description(old.unwrap_or(""));
    let have = chapters::of_video(&mut *tx, video_id).await?;
    if have != before {
        return Ok(());
    }
    let after = from_description(new.unwrap_or(""));
    if after != have {
        chapters::replace(tx, video_id, &after).await?;
    }
    Ok(())
}

/// The `Chapters` document of a local video (`/videos/watch/<uuid>/chapters`).
pub async fn document(app: &App, v: &videos::Video) -> Result<Value> {
    let list = chapters::of_video(&app.db, v.id).await?;
    let has_part: Vec<Value> = list
        .iter()
        .enumerate()
        .map(|(i, (t, title))| {
            let end = list.get(i + 1).map_or(v.duration, |n| n.0);
            json!({ "name": title, "startOffset": t, "endOffset": end })
        })
        .collect();
    Ok(json!({
        "@context": [
            "https://www.w3.org/ns/activitystreams",
            { "sc": "http://schema.org/", "hasPart": "sc:hasPart", "startOffset": "sc:startOffset", "endOffset": "sc:endOffset" }
        ],
        "id": format!("{}/chapters", crate::uris::video(app, &v.uuid)),
        "hasPart": has_part,
    }))
}

/// Chapters from a `Chapters` document (or an inline `hasParts` list): bounded, checked, sorted;
/// what does not read as a chapter is left out.
pub fn from_ap(parts: &Value, duration: i64) -> Vec<(i64, String)> {
    let mut out: Vec<(i64, String)> = Vec::new();
    for p in parts.as_array().into_iter().flatten().take(MAX_CHAPTERS) {
        let (Some(start), Some(name)) = (p["startOffset"].as_i64(), p["name"].as_str()) else { continue };
        let name = crate::text::html_to_text(name);
        let name: String = name.trim().chars().take(MAX_TITLE).collect();
        if name.is_empty() || start < 0 || (duration > 0 && start > duration) || out.iter().any(|(t, _)| *t == start) {
            continue;
        }
        out.push((start, name));
    }
    out.sort_by_key(|c| c.0);
    out
}

/// The `fetch-chapters` job: a remote video's chapters from its `hasParts` URL (on its server).
pub async fn fetch(app: &Arc<App>, video_id: i64, url: &str) -> std::result::Result<(), Failure> {
    let Some(v) = videos::get(&app.db, video_id).await.map_err(|e| Failure::Retry(e.to_string()))? else {
        return Ok(());
    };
    let doc = match app.fetcher.get_ap(url, None).await {
        Ok(d) => d,
        Err(e) if e.is_temporary() => return Err(Failure::Retry(e.to_string())),
        Err(e) => return Err(Failure::Fail(e.to_string())),
    };
    let list = from_ap(&doc["hasPart"], v.duration);
    let mut tx = app.db.begin().await.map_err(|e| Failure::Retry(e.to_string()))?;
    chapters::replace(&mut tx, video_id, &list).await.map_err(|e| Failure::Retry(e.to_string()))?;
    tx.commit().await.map_err(|e| Failure::Retry(e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_announce_chapters_as_peertube_reads_them() {
        let d = "My trip.\n\n00:00 Intro\n1:05 The harbour\n01:02:03 Night\nThanks for watching\n5:00 not a chapter";
        assert_eq!(from_description(d), vec![(0, "Intro".into()), (65, "The harbour".into()), (3723, "Night".into())]);
        // No chapter at 0, or only one: none.
        assert!(from_description("1:00 A\n2:00 B").is_empty());
        assert!(from_description("0:00 Only one").is_empty());
        // A second list starting at 0 ends the first.
        assert_eq!(from_description("0:00 A\n0:10 B\n0:00 C\n0:20 D").len(), 2);
        assert!(from_description("").is_empty());
    }

    #[test]
    fn chapter_lists_are_checked() {
        let c = |t: i64, title: &str| ChapterIn { timecode: t, title: title.into() };
        assert_eq!(checked(vec![c(10, " B "), c(0, "A")], 60).unwrap(), vec![(0, "A".into()), (10, "B".into())]);
        assert!(checked(vec![c(0, "A"), c(0, "B")], 60).is_err());
        assert!(checked(vec![c(-1, "A")], 60).is_err());
        assert!(checked(vec![c(61, "A")], 60).is_err());
        assert!(checked(vec![c(0, "  ")], 60).is_err());
        assert!(checked(vec![c(0, &"x".repeat(101))], 60).is_err());
    }
}
