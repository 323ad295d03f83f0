//! Multipart forms read with bounds on everything a client picks: how many parts, how long a text
//! part, how big an image, and how many bytes the parser may hold that were not yet handed to us.
//!
//! The last one matters because the upload route has no body limit (videos are gigabytes): the
//! multipart parser buffers a part's headers until it finds their end, so one part whose headers
//! never end would be kept in memory whole. [`Form`] counts the bytes the parser pulled from the
//! connection and the bytes it delivered as part contents; when the parser holds more than
//! [`MAX_BUFFERED`] of the difference, the body stream fails and the request is refused.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::multipart::Field;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::StatusCode;
use futures_util::Stream;

use crate::error::{ApiError, rejection};

/// Parts in one form. PeerTube's upload form has about twenty fields (five tags included), and
/// a password-protected video's up to 100 passwords (`videoPasswords[]`, one part each).
pub const MAX_PARTS: usize = 160;
/// Bytes of one text part (a description is at most 10,000 characters, 40,000 bytes of UTF-8).
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Bytes the parser may hold without handing them over (part headers, boundaries, read-ahead).
pub const MAX_BUFFERED: u64 = 1024 * 1024;

#[derive(Default)]
struct Counts {
    pulled: AtomicU64,
    delivered: AtomicU64,
    /// The parser held more than [`MAX_BUFFERED`]: the body stream failed on purpose.
    tripped: std::sync::atomic::AtomicBool,
}

impl Counts {
    /// The error of a failed read: ours when the guard tripped, else the parser's.
    fn error(&self, e: axum::extract::multipart::MultipartError) -> ApiError {
        if self.tripped.load(Ordering::Relaxed) {
            return too_large(format!(
                "a part's headers are too long: at most {MAX_BUFFERED} bytes are read without content"
            ));
        }
        rejection(e.status(), e.body_text())
    }
}

/// The request body, failing once the parser holds too much that it has not delivered. Before it
/// fails it reads and drops what the client still sends, up to [`DRAIN_BYTES`], so the client
/// reads our answer rather than a connection reset.
struct Guarded {
    inner: axum::body::BodyDataStream,
    counts: Arc<Counts>,
    /// Bytes dropped since the limit was passed; `None` while within it.
    draining: Option<u64>,
}

const DRAIN_BYTES: u64 = 16 * 1024 * 1024;

impl Stream for Guarded {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let held =
            self.counts.pulled.load(Ordering::Relaxed).saturating_sub(self.counts.delivered.load(Ordering::Relaxed));
        if held > MAX_BUFFERED && self.draining.is_none() {
            self.counts.tripped.store(true, Ordering::Relaxed);
            self.draining = Some(0);
        }
        if let Some(mut dropped) = self.draining {
            while dropped < DRAIN_BYTES {
                match Pin::new(&mut self.inner).poll_next(cx) {
                    Poll::Ready(Some(Ok(b))) => dropped += b.len() as u64,
                    Poll::Ready(_) => break,
                    Poll::Pending => {
                        self.draining = Some(dropped);
                        return Poll::Pending;
                    }
                }
            }
            self.draining = Some(DRAIN_BYTES);
            return Poll::Ready(Some(Err(std::io::Error::other("too many bytes held by the multipart parser"))));
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(b))) => {
                self.counts.pulled.fetch_add(b.len() as u64, Ordering::Relaxed);
                Poll::Ready(Some(Ok(b)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(std::io::Error::other(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A multipart form with bounds.
pub struct Form {
    inner: Multipart,
    counts: Arc<Counts>,
    parts: usize,
}

/// A refusal of the form as a whole: 413 with what was too big.
fn too_large(msg: String) -> ApiError {
    flotilla_app::Error::TooLarge { code: "payload_too_large", msg }.into()
}

/// One part of a [`Form`], its content read through the form's accounting.
pub struct Part<'a> {
    pub name: String,
    field: Field<'a>,
    counts: Arc<Counts>,
}

impl Part<'_> {
    /// The file name the client gave the part, if any (only ever shown, never a path).
    pub fn file_name(&self) -> Option<String> {
        self.field.file_name().map(str::to_string)
    }

    /// The next chunk of the part's content.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, ApiError> {
        let chunk = self.field.chunk().await.map_err(|e| self.counts.error(e))?;
        if let Some(c) = &chunk {
            self.counts.delivered.fetch_add(c.len() as u64, Ordering::Relaxed);
        }
        Ok(chunk)
    }

    /// The whole content, at most `limit` bytes (`what` names it in the refusal).
    pub async fn bytes(&mut self, limit: usize, what: &str) -> Result<Vec<u8>, ApiError> {
        let mut out = Vec::new();
        while let Some(chunk) = self.chunk().await? {
            if out.len() + chunk.len() > limit {
                return Err(too_large(format!("{what} is larger than {limit} bytes")));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// The content as text of at most [`MAX_TEXT_BYTES`].
    pub async fn text(&mut self) -> Result<String, ApiError> {
        let what = format!("the field '{}'", self.name);
        let bytes = self.bytes(MAX_TEXT_BYTES, &what).await?;
        String::from_utf8(bytes).map_err(|_| {
            ApiError::new(StatusCode::BAD_REQUEST, "malformed_request", format!("{what} is not UTF-8 text"))
        })
    }
}

impl Form {
    pub async fn from_request<S: Send + Sync>(req: Request, state: &S) -> Result<Form, ApiError> {
        let counts = Arc::new(Counts::default());
        let (parts, body) = req.into_parts();
        let guarded = Guarded { inner: body.into_data_stream(), counts: counts.clone(), draining: None };
        let req = Request::from_parts(parts, Body::from_stream(guarded));
        let inner = Multipart::from_request(req, state).await.map_err(|e| rejection(e.status(), e.body_text()))?;
        Ok(Form { inner, counts, parts: 0 })
    }

    /// The next part; refused past [`MAX_PARTS`].
    pub async fn next(&mut self) -> Result<Option<Part<'_>>, ApiError> {
        let Some(field) = self.inner.next_field().await.map_err(|e| self.counts.error(e))? else { return Ok(None) };
        self.parts += 1;
        if self.parts > MAX_PARTS {
            return Err(too_large(format!("the form has more than {MAX_PARTS} parts")));
        }
        let name = field.name().unwrap_or_default().chars().take(100).collect();
        Ok(Some(Part { name, field, counts: self.counts.clone() }))
    }

    /// Reads and drops what is left of a refused form, up to a bound, so the client reads our
    /// error instead of a connection reset (closing a socket with unread data makes the kernel send
    /// RST).
    pub async fn drain(mut self) {
        let limit = DRAIN_BYTES as usize;
        let mut seen = 0usize;
        let work = async {
            while let Ok(Some(mut field)) = self.inner.next_field().await {
                while let Ok(Some(chunk)) = field.chunk().await {
                    seen += chunk.len();
                    self.counts.delivered.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    if seen > limit {
                        return;
                    }
                }
            }
        };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), work).await;
    }
}
