//! Serving media files: byte ranges (206), ETags (304), long cache headers for files whose names
//! change with their content, CORS for players and peers, `nosniff` and a sandboxing CSP. Large
//! files stream from disk; nothing is read whole into memory.

use std::path::Path;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use flotilla_app::media_cache::{Cached, MediaCache};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::error::ApiError;

/// The content type of a media file by extension; `None` for anything we do not serve.
pub fn content_type(name: &str) -> Option<&'static str> {
    match name.rsplit_once('.')?.1 {
        "m3u8" => Some("application/vnd.apple.mpegurl"),
        "mp4" => Some("video/mp4"),
        "json" => Some("application/json"),
        "jpg" => Some("image/jpeg"),
        "torrent" => Some("application/x-bittorrent"),
        "vtt" => Some("text/vtt; charset=utf-8"),
        // A live's MPEG-TS segments.
        "ts" => Some("video/mp2t"),
        _ => None,
    }
}

/// A file name we generate: letters, digits and dashes, one dot before a known extension. Rejects
/// `..`, slashes, encoded separators and hidden files before the file system is touched.
pub fn safe_name(name: &str) -> bool {
    let Some((stem, _)) = name.rsplit_once('.') else { return false };
    !stem.is_empty()
        && name.len() <= 128
        && stem.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && content_type(name).is_some()
}

/// A cache that keeps nothing, for files that change under the same name (a live's playlists
/// and hashes, its segments' names reused by the next session).
pub static UNCACHED: std::sync::LazyLock<MediaCache> = std::sync::LazyLock::new(|| MediaCache::new(0));

/// Parses a single `bytes=` range against a length: `Ok(None)` for no (or an ignored multi-)range,
/// `Err(())` when unsatisfiable.
fn range(headers: &HeaderMap, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(v) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else { return Ok(None) };
    let Some(spec) = v.trim().strip_prefix("bytes=") else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None); // several ranges: answer with the whole file, which RFC 9110 allows
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().map_err(|_| ())?;
            if n == 0 {
                return Err(());
            }
            (len.saturating_sub(n), len.saturating_sub(1))
        }
        (s, "") => (s.parse().map_err(|_| ())?, len.saturating_sub(1)),
        (s, e) => (s.parse().map_err(|_| ())?, e.parse::<u64>().map_err(|_| ())?.min(len.saturating_sub(1))),
    };
    if len == 0 || start > end || start >= len {
        return Err(());
    }
    Ok(Some((start, end)))
}

/// The Content-Security-Policy of every file users put here (videos, playlists, thumbnails,
/// avatars): opened directly in a browser, such a file is a document with no origin, no script,
/// no plugin, nothing loaded (PeerTube CVE-2021-3780: an uploaded file ran script on the
/// instance's origin). Players fetch these files with XHR or a media element, where a response's
/// CSP has no effect.
pub const USER_FILE_CSP: &str = "default-src 'none'; sandbox";

/// Key under which a whole file is cached.
const WHOLE: (u64, u64) = (0, u64::MAX);

fn headers_for(content_type: &'static str, cache: &'static str, etag: &str) -> HeaderMap {
    // Room for these and the few added later (length, range, Vary): no growth on the hot path.
    let mut out = HeaderMap::with_capacity(16);
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    out.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("Content-Length, Content-Range, ETag"));
    out.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    out.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(USER_FILE_CSP));
    if let Ok(v) = HeaderValue::from_str(etag) {
        out.insert(header::ETAG, v);
    }
    out
}

fn not_modified(req: &HeaderMap, etag: &str) -> bool {
    req.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
}

/// An explicit `bytes=a-b` range, as written: the key of a cached range.
fn explicit_range(req: &HeaderMap) -> Option<(u64, u64)> {
    let spec = req.get(header::RANGE)?.to_str().ok()?.trim().strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// Answers from bytes in memory: the whole file, or `range` of it.
fn respond(mut out: HeaderMap, req: &HeaderMap, c: &Cached, whole: bool) -> Response {
    if not_modified(req, &c.etag) {
        return (StatusCode::NOT_MODIFIED, out).into_response();
    }
    if !whole {
        // A cached piece is exactly the range that was asked.
        let start = explicit_range(req).map_or(0, |r| r.0);
        let end = start + c.bytes.len() as u64 - 1;
        out.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes {start}-{end}/{}", c.file_len)).expect("ascii"),
        );
        out.insert(header::CONTENT_LENGTH, HeaderValue::from(c.bytes.len()));
        return (StatusCode::PARTIAL_CONTENT, out, c.bytes.clone()).into_response();
    }
    match range(req, c.file_len) {
        Ok(None) => {
            out.insert(header::CONTENT_LENGTH, HeaderValue::from(c.bytes.len()));
            (StatusCode::OK, out, c.bytes.clone()).into_response()
        }
        Ok(Some((s, e))) => {
            out.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes {s}-{e}/{}", c.file_len)).expect("ascii"),
            );
            out.insert(header::CONTENT_LENGTH, HeaderValue::from(e - s + 1));
            (StatusCode::PARTIAL_CONTENT, out, c.bytes.slice(s as usize..=e as usize)).into_response()
        }
        Err(()) => {
            out.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{}", c.file_len)).expect("ascii"),
            );
            (StatusCode::RANGE_NOT_SATISFIABLE, out).into_response()
        }
    }
}

/// A request's `bytes=a-b` or `bytes=a-` range (`b` open: `None`); other forms (suffixes,
/// several ranges) are not a piece's range.
pub fn requested_range(req: &HeaderMap) -> Option<(u64, Option<u64>)> {
    let spec = req.get(header::RANGE)?.to_str().ok()?.trim().strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let a = a.trim().parse().ok()?;
    match b.trim() {
        "" => Some((a, None)),
        b => Some((a, Some(b.parse().ok()?))),
    }
}

/// Answers a whole small file held in memory (the edge cache's playlists and hashes), ranges and
/// ETag as for our own files.
pub fn respond_whole(req: &HeaderMap, content_type: &'static str, cache_control: &'static str, c: &Cached) -> Response {
    respond(headers_for(content_type, cache_control, &c.etag), req, c, true)
}

/// Answers bytes `a..=b` (`b` open: to the piece's end) from a piece that starts at `start` in
/// its file and holds them (the caller found it so). `file_len` 0: the whole file's length is
/// unknown, said `*`.
pub fn respond_piece(
    req: &HeaderMap,
    content_type: &'static str,
    cache_control: &'static str,
    piece: &Cached,
    start: u64,
    (a, b): (u64, Option<u64>),
) -> Response {
    let mut out = headers_for(content_type, cache_control, &piece.etag);
    if not_modified(req, &piece.etag) {
        return (StatusCode::NOT_MODIFIED, out).into_response();
    }
    let last = start + piece.bytes.len() as u64 - 1;
    let b = b.unwrap_or(last).min(last);
    let total = if piece.file_len == 0 { "*".to_string() } else { piece.file_len.to_string() };
    out.insert(header::CONTENT_RANGE, HeaderValue::from_str(&format!("bytes {a}-{b}/{total}")).expect("ascii"));
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(b - a + 1));
    let body = piece.bytes.slice((a - start) as usize..=(b - start) as usize);
    (StatusCode::PARTIAL_CONTENT, out, body).into_response()
}

/// Opens a file we wrote, for reading: `None` when it is missing, a symbolic link or not a regular
/// file. The names are ours, but a link planted in the storage tree must not serve what it points
/// to (security case 20), and a FIFO or device would block a task or stream without end.
/// Directories on the way may be links: an admin moving `streaming-playlists` to another disk is
/// an ordinary set-up.
async fn open_regular(path: &Path) -> std::io::Result<Option<(tokio::fs::File, std::fs::Metadata)>> {
    let opened = tokio::fs::OpenOptions::new()
        .read(true)
        // O_NONBLOCK: opening a FIFO with no writer would otherwise wait; no effect on files.
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .await;
    let file = match opened {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            tracing::warn!(path = %path.display(), "a symbolic link in the storage tree is not served");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let meta = file.metadata().await?;
    Ok(meta.is_file().then_some((file, meta)))
}

/// Answers a GET for `path` (already checked to be ours) with ranges, ETag and caching. Small files
/// and explicit ranges up to the cache's piece size are kept in memory; larger ones stream from disk.
pub async fn serve(
    cache: &MediaCache,
    path: &Path,
    headers: &HeaderMap,
    content_type: &'static str,
    cache_control: &'static str,
) -> Result<Response, ApiError> {
    if let Some(c) = cache.get(path, WHOLE.0, WHOLE.1) {
        return Ok(respond(headers_for(content_type, cache_control, &c.etag), headers, &c, true));
    }
    let explicit = explicit_range(headers);
    if let Some((a, b)) = explicit
        && let Some(c) = cache.get(path, a, b)
    {
        return Ok(respond(headers_for(content_type, cache_control, &c.etag), headers, &c, false));
    }
    let internal = |e: std::io::Error| {
        ApiError::from(flotilla_app::Error::Internal(format!("cannot read {}: {e}", path.display())))
    };
    let Some((mut file, meta)) = open_regular(path).await.map_err(internal)? else {
        return Err(ApiError::not_found("file not found"));
    };
    let len = meta.len();
    let mtime =
        meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
    let etag = format!("\"{len:x}-{mtime:x}\"");
    let mut out = headers_for(content_type, cache_control, &etag);

    // Small files (playlists, hashes, thumbnails) are read whole and kept.
    if len as usize <= cache.max_entry {
        let mut buf = Vec::with_capacity(len as usize);
        file.read_to_end(&mut buf).await.map_err(internal)?;
        let c = Cached { file_len: buf.len() as u64, bytes: Bytes::from(buf), etag };
        cache.put(path, WHOLE.0, WHOLE.1, c.clone());
        return Ok(respond(out, headers, &c, true));
    }
    if not_modified(headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, out).into_response());
    }
    let (status, start, count) = match range(headers, len) {
        Ok(None) => (StatusCode::OK, 0, len),
        Ok(Some((s, e))) => {
            out.insert(header::CONTENT_RANGE, HeaderValue::from_str(&format!("bytes {s}-{e}/{len}")).expect("ascii"));
            (StatusCode::PARTIAL_CONTENT, s, e - s + 1)
        }
        Err(()) => {
            out.insert(header::CONTENT_RANGE, HeaderValue::from_str(&format!("bytes */{len}")).expect("ascii"));
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, out).into_response());
        }
    };
    if start > 0 {
        file.seek(std::io::SeekFrom::Start(start)).await.map_err(internal)?;
    }
    // A segment (an explicit range of a fragmented MP4) small enough to keep: read it, keep it.
    if let Some((a, b)) =
        explicit.filter(|_| status == StatusCode::PARTIAL_CONTENT && count as usize <= cache.max_entry)
    {
        let mut buf = vec![0u8; count as usize];
        file.read_exact(&mut buf).await.map_err(internal)?;
        let c = Cached { bytes: Bytes::from(buf), file_len: len, etag };
        cache.put(path, a, b, c.clone());
        out.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
        return Ok((status, out, c.bytes).into_response());
    }
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file.take(count), 64 * 1024));
    Ok((status, out, body).into_response())
}

/// Answers a GET for a file wherever it is (`flotilla_app::storage::Place`): from the disk as
/// [`serve`]; in a public bucket, a redirect to its URL there when `redirect` (a player's or a
/// peer's request: the store serves it); else streamed through us with ranges, without keeping
/// it in memory.
pub async fn serve_place(
    app: &flotilla_app::App,
    place: flotilla_app::storage::Place,
    headers: &HeaderMap,
    content_type: &'static str,
    cache_control: &'static str,
    redirect: bool,
) -> Result<Response, ApiError> {
    use flotilla_app::storage::Place;
    let (storage, kind, uuid, file) = match place {
        Place::Disk(path) => return serve(&app.media_cache, &path, headers, content_type, cache_control).await,
        Place::Object { public_url: Some(url), .. } if redirect => {
            let mut out = HeaderMap::new();
            let location = HeaderValue::from_str(&url).map_err(|_| ApiError::not_found("file not found"))?;
            out.insert(header::LOCATION, location);
            out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            out.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
            return Ok((StatusCode::FOUND, out).into_response());
        }
        Place::Object { storage, kind, uuid, file, .. } => (storage, kind, uuid, file),
    };
    // Streamed through us because not everybody may read it (or a download): never kept by a
    // shared cache, whatever the route's usual caching.
    let cache_control = if cache_control.starts_with("private") { cache_control } else { "private, max-age=3600" };
    serve_object(app, storage, kind, &uuid, &file, headers, content_type, cache_control).await
}

/// Streams a file of the object store (`storage`, `kind`) through us: ranges, a size-based ETag
/// (names change with content), nothing kept in memory.
#[allow(clippy::too_many_arguments)]
pub async fn serve_object(
    app: &flotilla_app::App,
    storage: i64,
    kind: flotilla_app::storage::Kind,
    uuid: &str,
    file: &str,
    headers: &HeaderMap,
    content_type: &'static str,
    cache_control: &'static str,
) -> Result<Response, ApiError> {
    use flotilla_app::storage::ByteRange;
    let store = app.object_storage.as_ref().ok_or_else(|| ApiError::not_found("file not found"))?;
    let unavailable = |e: flotilla_app::Error| match e {
        flotilla_app::Error::NotFound(_) => ApiError::not_found("file not found"),
        e => ApiError::from(flotilla_app::Error::Upstream {
            code: "object_storage_unavailable",
            msg: format!("the object store did not answer: {e}"),
        }),
    };
    // The range as asked, sent with the one GET (its answer carries the size): one round trip
    // to the store. Several ranges: the whole file, as `range` does.
    let want = requested_range(headers)
        .map(|(a, b)| b.map_or(ByteRange::From(a), |b| ByteRange::Between(a, b)))
        .or_else(|| suffix_range(headers).map(ByteRange::Last));
    let read = match store.get(storage, kind, uuid, file, want).await {
        Ok(read) => read,
        Err(e) if want.is_none() || matches!(e, flotilla_app::Error::NotFound(_)) => return Err(unavailable(e)),
        Err(e) => {
            // Most likely a range past the end: the size says (and answers 416), else it failed.
            let len = store.size(storage, kind, uuid, file).await.map_err(unavailable)?;
            if range(headers, len).is_ok() {
                return Err(unavailable(e));
            }
            let mut out = headers_for(content_type, cache_control, &format!("\"{len:x}-o\""));
            out.insert(header::CONTENT_RANGE, HeaderValue::from_str(&format!("bytes */{len}")).expect("ascii"));
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, out).into_response());
        }
    };
    let len = read.size;
    let etag = format!("\"{len:x}-o\"");
    let mut out = headers_for(content_type, cache_control, &etag);
    if not_modified(headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, out).into_response());
    }
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(read.range.end - read.range.start));
    let status = if want.is_some() {
        let (s, e) = (read.range.start, read.range.end.saturating_sub(1));
        out.insert(header::CONTENT_RANGE, HeaderValue::from_str(&format!("bytes {s}-{e}/{len}")).expect("ascii"));
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    Ok((status, out, Body::from_stream(read.stream)).into_response())
}

/// A request's `bytes=-n` (the last `n` bytes), `n` > 0.
fn suffix_range(req: &HeaderMap) -> Option<u64> {
    let spec = req.get(header::RANGE)?.to_str().ok()?.trim().strip_prefix("bytes=")?;
    let n: u64 = spec.strip_prefix('-')?.trim().parse().ok()?;
    (n > 0 && !spec.contains(',')).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(header::RANGE, HeaderValue::from_str(v).unwrap());
        m
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(range(&h("bytes=0-99"), 1000), Ok(Some((0, 99))));
        assert_eq!(range(&h("bytes=900-"), 1000), Ok(Some((900, 999))));
        assert_eq!(range(&h("bytes=-100"), 1000), Ok(Some((900, 999))));
        assert_eq!(range(&h("bytes=990-5000"), 1000), Ok(Some((990, 999))));
        assert_eq!(range(&h("bytes=1000-"), 1000), Err(()));
        assert_eq!(range(&h("bytes=5-1"), 1000), Err(()));
        assert_eq!(range(&h("bytes=0-1,5-6"), 1000), Ok(None));
        assert_eq!(range(&HeaderMap::new(), 1000), Ok(None));
    }

    #[tokio::test]
    async fn links_fifos_and_directories_in_the_storage_tree_are_not_served() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret.mp4");
        std::fs::write(&secret, b"another user's private video").unwrap();
        let root = dir.path().join("streaming-playlists/hls/4fbbe031-8b81-41f7-b378-f50407b01481");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("a-master.m3u8"), b"#EXTM3U\n").unwrap();
        std::os::unix::fs::symlink(&secret, root.join("b-720-fragmented.mp4")).unwrap();
        std::fs::create_dir(root.join("c-master.m3u8")).unwrap();
        let mkfifo = std::process::Command::new("mkfifo").arg(root.join("d-master.m3u8")).status().unwrap();
        assert!(mkfifo.success(), "mkfifo");
        let cache = MediaCache::new(1 << 20);
        let get = |name: &str| {
            let path = root.join(name);
            let cache = &cache;
            async move { serve(cache, &path, &HeaderMap::new(), "video/mp4", "no-cache").await.map(|r| r.status()) }
        };
        assert_eq!(get("a-master.m3u8").await.unwrap(), StatusCode::OK, "a file we wrote is served");
        for name in ["b-720-fragmented.mp4", "c-master.m3u8", "d-master.m3u8", "e-master.m3u8"] {
            let e = get(name).await.expect_err(name);
            assert_eq!(e.into_response().status(), StatusCode::NOT_FOUND, "{name}");
        }
    }

    #[test]
    fn only_generated_names_are_served() {
        assert!(safe_name("4fbbe031-8b81-41f7-b378-f50407b01481-720-fragmented.mp4"));
        assert!(safe_name("abc-master.m3u8"));
        for bad in ["../x.mp4", "..", ".hidden.m3u8", "a/b.mp4", "a%2Fb.mp4", "x.db", "x.m3u8.tmp", "x"] {
            assert!(!safe_name(bad), "{bad}");
        }
    }
}

#[cfg(test)]
mod props;
