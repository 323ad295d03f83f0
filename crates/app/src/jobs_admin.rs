//! What admins see of the job queue, in PeerTube's shape (`GET /api/v1/jobs/:state`).

use flotilla_db::{Page, jobs};
use flotilla_domain::time::{iso8601, now_ms};
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::{App, Error, Result};

/// PeerTube's state names ↔ ours.
fn our_state(peertube: &str) -> Option<Option<&'static str>> {
    Some(match peertube {
        "active" => Some("running"),
        "waiting" | "delayed" => Some("queued"),
        "completed" => Some("done"),
        "failed" => Some("failed"),
        "all" => None,
        _ => return None,
    })
}

fn peertube_state(ours: &str, run_at: i64) -> &'static str {
    match ours {
        "running" => "active",
        "queued" if run_at > now_ms() => "delayed",
        "queued" => "waiting",
        "done" => "completed",
        _ => "failed",
    }
}

/// PeerTube's job type names for our kinds.
fn peertube_type(kind: &str) -> &str {
    match kind {
        "transcode" => "video-transcoding",
        other => other,
    }
}

pub async fn list(app: &App, who: &AuthUser, state: &str, job_type: Option<&str>, page: Page) -> Result<Value> {
    who.require_admin()?;
    let state = our_state(state)
        .ok_or_else(|| Error::invalid("state", "state must be active, waiting, delayed, completed, failed or all"))?;
    let kind = job_type.map(|t| if t == "video-transcoding" { "transcode" } else { t });
    let (rows, total) = jobs::list(&app.db, state, kind, page).await?;
    let data: Vec<Value> = rows
        .iter()
        .map(|j| {
            json!({
                "id": j.id,
                "state": peertube_state(&j.state, j.run_at),
                "type": peertube_type(&j.kind),
                "data": serde_json::from_str::<Value>(&j.payload).unwrap_or(Value::Null),
                "error": j.last_error,
                "progress": j.progress,
                "attempts": j.attempts,
                "createdAt": iso8601(j.created_at),
                "processedOn": j.heartbeat_at.map(iso8601),
                "finishedOn": j.finished_at.map(iso8601),
            })
        })
        .collect();
    Ok(json!({ "total": total, "data": data }))
}

/// A failed job goes back to the queue.
pub async fn retry(app: &App, who: &AuthUser, id: i64) -> Result<()> {
    who.require_admin()?;
    let job = jobs::get(&app.db, id).await?.ok_or_else(|| Error::not_found("job"))?;
    if !jobs::retry(&app.db, job.id, now_ms()).await? {
        return Err(Error::Conflict(format!("job {id} is {}, only failed jobs can be retried", job.state)));
    }
    app.wake_jobs();
    Ok(())
}
