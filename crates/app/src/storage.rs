//! Where a local video's media files are kept: the local disk (`streaming-playlists/hls/<uuid>/`,
//! `web-videos/<uuid>/`) or an S3-compatible object store (`[object_storage]`), and moving them
//! between the two.
//!
//! A video's HLS files (renditions, their playlists, the master playlist, the segment hashes) and
//! its web videos are all in one place, `videos.storage`: the disk, the public buckets (one per
//! kind, read by the public from their `base_url`), or the private bucket (videos that are not
//! public, read only through Flotilla), captions included (`<uuid>/captions/`). Images (avatars,
//! banners, thumbnails, previews) have a bucket of their own (`image_storage`); torrents and
//! storyboards stay on the disk.
//!
//! A move (`move-to-object-storage`, `move-to-file-system`; [`run_move`]) copies every file to
//! the target, checks each copy's size, then flips `videos.storage` in one update fenced by the
//! old value, and only then removes the old copies: a move killed at any point leaves the
//! video readable where its row says, and its next run copies again (same keys, same names).
//! What needs the files on the disk (a new transcoding) brings them back first ([`ensure_local`]).
//!
//! The S3 protocol (signing, multipart uploads, retries with backoff) is the `object_store`
//! crate's.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use flotilla_db::videos::{self, STORAGE_FILE_SYSTEM, STORAGE_OBJECT, STORAGE_OBJECT_PRIVATE, Video};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::{GetOptions, GetRange, ObjectStore, PutPayload, WriteMultipart};

use crate::config::ObjectStorageConfig;
use crate::jobs::Failure;
use crate::{App, Error, Result};

/// Which kind of file: each has its public bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Hls,
    Web,
    /// A kept original (`[transcoding] keep_original`): only ever in the private bucket.
    Original,
    /// A user's archive (`archive::export`): only ever in the private bucket.
    UserExport,
    /// A local video's caption (`video::captions`): with the video's other files, under
    /// `<uuid>/captions/` of its bucket.
    Caption,
    /// An avatar, banner, thumbnail or preview (`image_storage`): only ever in the images bucket,
    /// under `<prefix><dir>/<name>` (the `uuid` argument of the methods below is the directory).
    Image,
}

struct Bucket {
    store: Arc<AmazonS3>,
    prefix: String,
    /// Where the public reads this bucket's keys (no trailing slash); empty for the private one.
    public_base: String,
}

/// The configured object store: a client per bucket.
pub struct ObjectStorage {
    hls: Bucket,
    web: Bucket,
    private: Option<Bucket>,
    images: Option<Bucket>,
    part_size: usize,
}

/// Bytes of a file, as an HTTP `Range` names them: `a-b` (inclusive), `a-`, or the last `n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    Between(u64, u64),
    From(u64),
    Last(u64),
}

/// A file being read from the store: its whole size, the bytes answered, and their stream.
pub struct ObjectRead {
    pub size: u64,
    pub range: std::ops::Range<u64>,
    pub stream: BoxStream<'static, std::result::Result<Bytes, std::io::Error>>,
}

impl ObjectStorage {
    /// Clients for the configured buckets; the message names what is wrong.
    pub fn new(c: &ObjectStorageConfig) -> std::result::Result<ObjectStorage, String> {
        let endpoint = c.endpoint.trim_end_matches('/');
        let url = url::Url::parse(endpoint).map_err(|e| format!("endpoint '{endpoint}' is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!("endpoint '{endpoint}' must be http(s)://host[:port]"));
        }
        if c.access_key_id.is_empty() || c.secret_access_key.is_empty() {
            return Err("access_key_id and secret_access_key are needed".into());
        }
        if c.max_upload_part < 5 * 1024 * 1024 {
            return Err("max_upload_part must be at least 5 MiB (S3's smallest part)".into());
        }
        let client = |bucket: &str| -> std::result::Result<Arc<AmazonS3>, String> {
            let retry = object_store::RetryConfig {
                backoff: object_store::BackoffConfig {
                    init_backoff: Duration::from_millis(200),
                    max_backoff: Duration::from_secs(5),
                    base: 2.0,
                },
                max_retries: 5,
                retry_timeout: Duration::from_secs(60),
            };
            let options = object_store::ClientOptions::new()
                .with_allow_http(true)
                .with_connect_timeout(Duration::from_secs(10))
                .with_timeout(Duration::from_secs(300));
            AmazonS3Builder::new()
                .with_endpoint(endpoint)
                .with_region(&c.region)
                .with_bucket_name(bucket)
                .with_access_key_id(&c.access_key_id)
                .with_secret_access_key(&c.secret_access_key)
                .with_virtual_hosted_style_request(c.virtual_host_style)
                .with_retry(retry)
                .with_client_options(options)
                .build()
                .map(Arc::new)
                .map_err(|e| format!("bucket '{bucket}': {e}"))
        };
        let public_base = |bucket: &str, base_url: &str| -> String {
            if !base_url.is_empty() {
                return base_url.trim_end_matches('/').to_string();
            }
            if c.virtual_host_style {
                let host = url.host_str().unwrap_or_default();
                let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
                format!("{}://{bucket}.{host}{port}", url.scheme())
            } else {
                format!("{endpoint}/{bucket}")
            }
        };
        let bucket = |name: &str, prefix: &str, base_url: &str, key: &str| -> std::result::Result<Bucket, String> {
            if name.is_empty() {
                return Err(format!("{key}_bucket_name is needed"));
            }
            Ok(Bucket { store: client(name)?, prefix: prefix.to_string(), public_base: public_base(name, base_url) })
        };
        let private = if c.private_bucket_name.is_empty() {
            None
        } else {
            Some(Bucket {
                store: client(&c.private_bucket_name)?,
                prefix: c.private_prefix.clone(),
                public_base: String::new(),
            })
        };
        let images = if c.images_bucket_name.is_empty() {
            None
        } else {
            Some(bucket(&c.images_bucket_name, &c.images_prefix, &c.images_base_url, "images")?)
        };
        Ok(ObjectStorage {
            images,
            hls: bucket(
                &c.streaming_playlists_bucket_name,
                &c.streaming_playlists_prefix,
                &c.streaming_playlists_base_url,
                "streaming_playlists",
            )?,
            web: bucket(&c.web_videos_bucket_name, &c.web_videos_prefix, &c.web_videos_base_url, "web_videos")?,
            private,
            part_size: c.max_upload_part as usize,
        })
    }

    /// The bucket and key of a file of a video stored at `storage`.
    fn locate(&self, storage: i64, kind: Kind, uuid: &str, file: &str) -> Option<(&Bucket, Key)> {
        let (bucket, key) = match (storage, kind) {
            (STORAGE_OBJECT, Kind::Hls) => (&self.hls, format!("{}{uuid}/{file}", self.hls.prefix)),
            (STORAGE_OBJECT, Kind::Web) => (&self.web, format!("{}{file}", self.web.prefix)),
            (STORAGE_OBJECT, Kind::Caption) => (&self.hls, format!("{}{uuid}/captions/{file}", self.hls.prefix)),
            (STORAGE_OBJECT_PRIVATE, Kind::Caption) => {
                let b = self.private.as_ref()?;
                (b, format!("{}captions/{uuid}/{file}", b.prefix))
            }
            (STORAGE_OBJECT_PRIVATE, Kind::Hls) => {
                let b = self.private.as_ref()?;
                (b, format!("{}hls/{uuid}/{file}", b.prefix))
            }
            (STORAGE_OBJECT_PRIVATE, Kind::Web) => {
                let b = self.private.as_ref()?;
                (b, format!("{}web-videos/{file}", b.prefix))
            }
            (STORAGE_OBJECT_PRIVATE, Kind::Original) => {
                let b = self.private.as_ref()?;
                (b, format!("{}original-video-files/{file}", b.prefix))
            }
            (STORAGE_OBJECT_PRIVATE, Kind::UserExport) => {
                let b = self.private.as_ref()?;
                (b, format!("{}user-exports/{file}", b.prefix))
            }
            (STORAGE_OBJECT, Kind::Image) => {
                let b = self.images.as_ref()?;
                (b, format!("{}{uuid}/{file}", b.prefix))
            }
            _ => return None,
        };
        Some((bucket, Key::from(key)))
    }

    /// The URL the public reads a file of a public video from.
    pub fn public_url(&self, kind: Kind, uuid: &str, file: &str) -> String {
        let (bucket, key) = self.locate(STORAGE_OBJECT, kind, uuid, file).expect("public buckets always exist");
        format!("{}/{}", bucket.public_base, key)
    }

    /// Where the public reads a stored image (`dir` is `images`, `thumbnails` or `previews`).
    pub fn image_url(&self, dir: &str, name: &str) -> Option<String> {
        let (bucket, key) = self.locate(STORAGE_OBJECT, Kind::Image, dir, name)?;
        Some(format!("{}/{}", bucket.public_base, key))
    }

    /// Whether images go to the store (an images bucket is configured).
    pub fn has_images(&self) -> bool {
        self.images.is_some()
    }

    /// Whether videos that are not public may go to the store (a private bucket is configured).
    pub fn has_private(&self) -> bool {
        self.private.is_some()
    }

    /// Uploads a local file (in parts above `max_upload_part`), then checks the stored size.
    pub async fn upload(&self, storage: i64, kind: Kind, uuid: &str, file: &str, local: &Path) -> Result<()> {
        let (bucket, key) = self.locate(storage, kind, uuid, file).ok_or_else(no_bucket)?;
        let len = tokio::fs::metadata(local).await.map_err(io)?.len();
        if len as usize <= self.part_size {
            let bytes = tokio::fs::read(local).await.map_err(io)?;
            bucket.store.put(&key, PutPayload::from(bytes)).await.map_err(s3)?;
        } else {
            use tokio::io::AsyncReadExt;
            let upload = bucket.store.put_multipart(&key).await.map_err(s3)?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, self.part_size);
            let mut f = tokio::fs::File::open(local).await.map_err(io)?;
            let mut buf = vec![0u8; 1024 * 1024];
            let sent = async {
                loop {
                    // At most two parts in flight: memory stays within two parts.
                    writer.wait_for_capacity(2).await.map_err(s3)?;
                    let n = f.read(&mut buf).await.map_err(io)?;
                    if n == 0 {
                        return Ok(());
                    }
                    writer.write(&buf[..n]);
                }
            }
            .await;
            match sent {
                Ok(()) => {
                    writer.finish().await.map_err(s3)?;
                }
                Err(e) => {
                    // The parts sent so far would stay in the store, invisible, taking space.
                    let _ = writer.abort().await;
                    return Err(e);
                }
            }
        }
        let stored = bucket.store.head(&key).await.map_err(s3)?.size;
        if stored != len {
            return Err(Error::Internal(format!("{key}: the store holds {stored} bytes of {len}")));
        }
        Ok(())
    }

    /// Downloads a stored file to `dest` (written beside it, then renamed), checking its size.
    pub async fn download(&self, storage: i64, kind: Kind, uuid: &str, file: &str, dest: &Path) -> Result<()> {
        use tokio::io::AsyncWriteExt;
        let read = self.get(storage, kind, uuid, file, None).await?;
        let part = PathBuf::from(format!("{}.part", dest.display()));
        let mut out = tokio::fs::File::create(&part).await.map_err(io)?;
        let mut written = 0u64;
        let mut stream = read.stream;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(io)?;
            written += chunk.len() as u64;
            out.write_all(&chunk).await.map_err(io)?;
        }
        out.sync_all().await.map_err(io)?;
        drop(out);
        if written != read.size {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(Error::Internal(format!("{file}: read {written} bytes of {}", read.size)));
        }
        tokio::fs::rename(&part, dest).await.map_err(io)
    }

    /// Reads a stored file, or `range` of it, in one request (its size comes with it). A missing
    /// file is `NotFound`; a range the file cannot satisfy is an error too (ask [`Self::size`]).
    pub async fn get(
        &self,
        storage: i64,
        kind: Kind,
        uuid: &str,
        file: &str,
        range: Option<ByteRange>,
    ) -> Result<ObjectRead> {
        let (bucket, key) = self.locate(storage, kind, uuid, file).ok_or_else(no_bucket)?;
        let range = range.map(|r| match r {
            ByteRange::Between(a, b) => GetRange::Bounded(a..b + 1),
            ByteRange::From(a) => GetRange::Offset(a),
            ByteRange::Last(n) => GetRange::Suffix(n),
        });
        let options = GetOptions { range, ..Default::default() };
        let got = bucket.store.get_opts(&key, options).await.map_err(s3)?;
        let (size, range) = (got.meta.size, got.range.clone());
        let stream = got.into_stream().map(|r| r.map_err(std::io::Error::other)).boxed();
        Ok(ObjectRead { size, range, stream })
    }

    /// A stored file's size (`NotFound` when missing).
    pub async fn size(&self, storage: i64, kind: Kind, uuid: &str, file: &str) -> Result<u64> {
        let (bucket, key) = self.locate(storage, kind, uuid, file).ok_or_else(no_bucket)?;
        Ok(bucket.store.head(&key).await.map_err(s3)?.size)
    }

    /// Removes a stored file; one already gone is not an error.
    pub async fn delete(&self, storage: i64, kind: Kind, uuid: &str, file: &str) -> Result<()> {
        let (bucket, key) = self.locate(storage, kind, uuid, file).ok_or_else(no_bucket)?;
        match bucket.store.delete(&key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(s3(e)),
        }
    }
}

fn no_bucket() -> Error {
    Error::Internal("no bucket is configured for this file".into())
}

fn io(e: std::io::Error) -> Error {
    Error::Internal(format!("object storage: {e}"))
}

fn s3(e: object_store::Error) -> Error {
    match e {
        object_store::Error::NotFound { .. } => Error::not_found("file"),
        e => Error::Internal(format!("object storage: {e}")),
    }
}

/// Where to read one of a video's files from.
pub enum Place {
    Disk(PathBuf),
    /// In the object store. `public_url`: its URL in a public bucket, for a video anybody may
    /// read (players are sent there); `None`: read only through Flotilla (the private bucket, or
    /// a public one while the move after a privacy change has not run yet).
    Object {
        storage: i64,
        kind: Kind,
        uuid: String,
        file: String,
        public_url: Option<String>,
    },
}

/// Where one of a local video's files is.
pub fn place(app: &App, v: &Video, kind: Kind, file: &str) -> Place {
    match &app.object_storage {
        Some(store) if v.storage != STORAGE_FILE_SYSTEM => Place::Object {
            storage: v.storage,
            kind,
            uuid: v.uuid.clone(),
            file: file.to_string(),
            public_url: (v.storage == STORAGE_OBJECT && readable_by_anyone(v))
                .then(|| store.public_url(kind, &v.uuid, file)),
        },
        _ => Place::Disk(local_path(app, v, kind, file)),
    }
}

/// A video whose files anybody may read by URL (public or unlisted, not blocked): its files go
/// to the public buckets; the others' to the private one.
pub fn readable_by_anyone(v: &Video) -> bool {
    matches!(v.privacy, 1 | 2) && v.blocked == 0
}

/// Where a video's files belong when the object store is wanted: the public buckets, the
/// private one, or the disk when the store has no private bucket for a video that is not public.
fn object_target(store: &ObjectStorage, v: &Video) -> i64 {
    if readable_by_anyone(v) {
        STORAGE_OBJECT
    } else if store.has_private() {
        STORAGE_OBJECT_PRIVATE
    } else {
        STORAGE_FILE_SYSTEM
    }
}

/// The public URL of one of a video's files: the bucket's when the video's files are in a public
/// bucket and anybody may read them, else ours (which checks who asks).
pub fn file_url(app: &App, v: &Video, kind: Kind, file: &str) -> String {
    if v.storage == STORAGE_OBJECT
        && matches!(kind, Kind::Hls | Kind::Web)
        && readable_by_anyone(v)
        && let Some(store) = &app.object_storage
    {
        return store.public_url(kind, &v.uuid, file);
    }
    match kind {
        Kind::Hls => crate::uris::absolute(app, &crate::uris::hls_file_path(&v.uuid, file)),
        Kind::Web => format!("{}/static/web-videos/{file}", app.public.base()),
        Kind::Original => format!("{}/download/original-video-files/{}", app.public.base(), v.uuid),
        Kind::UserExport => format!("{}/download/user-exports/{file}", app.public.base()),
        Kind::Caption => crate::uris::absolute(app, &format!("/lazy-static/video-captions/{file}")),
        // Images are nobody's video file (`image_storage` reads and writes them by their names).
        Kind::Image => unreachable!("an image is not a video's file"),
    }
}

/// The names of a video's files, by kind: every rendition and its playlist, the master playlist
/// and hashes, every web video.
async fn names(app: &App, v: &Video) -> Result<Vec<(Kind, String)>> {
    let mut out = Vec::new();
    for f in videos::all_files(&app.db, v.id).await? {
        if f.kind == videos::KIND_WEB {
            out.push((Kind::Web, f.filename));
        } else {
            out.push((Kind::Hls, f.filename));
            out.push((Kind::Hls, f.playlist));
        }
    }
    for name in [&v.master_playlist, &v.segments_sha256].into_iter().flatten() {
        out.push((Kind::Hls, name.clone()));
    }
    for c in flotilla_db::captions::of_video(&app.db, v.id).await? {
        if let Some(name) = c.filename {
            out.push((Kind::Caption, name));
        }
    }
    Ok(out)
}

fn local_path(app: &App, v: &Video, kind: Kind, file: &str) -> PathBuf {
    match kind {
        Kind::Hls => crate::video::hls_dir(app, &v.uuid).join(file),
        Kind::Web => crate::video::files::web_dir(app, &v.uuid).join(file),
        Kind::Original => crate::video::source::originals_dir(app).join(file),
        Kind::UserExport => app.data_path(crate::archive::EXPORT_DIR).join(file),
        Kind::Caption => crate::video::captions::dir(app, &v.uuid).join(file),
        Kind::Image => unreachable!("an image is not a video's file"),
    }
}

/// Which way a move goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// To the bucket the video's privacy calls for.
    ToObjectStorage,
    ToFileSystem,
}

/// The `move-to-object-storage` and `move-to-file-system` jobs: moves a local video's files
/// where `direction` and its privacy say, then removes the old copies. Runs again until the
/// video is where it should be (its privacy may change during a move).
pub async fn run_move(app: &App, video_id: i64, direction: Direction) -> std::result::Result<(), Failure> {
    // A privacy change from here on queues another move, which runs after this one.
    let key = crate::jobs::Job::move_job(video_id, direction).unique_key().expect("moves have a key");
    flotilla_db::jobs::release_key(&app.db, &key).await?;
    let Some(v) = videos::get(&app.db, video_id).await? else { return Ok(()) };
    // Lives change their files every second.
    if !v.is_local() || v.is_live {
        return Ok(());
    }
    // A transcoding to come or under way (the video has an input) writes on the disk: nothing to
    // move now; its end (which clears the input) queues the move again.
    if v.input_path.is_some() {
        return Ok(());
    }
    let target = match (direction, &app.object_storage) {
        (Direction::ToObjectStorage, Some(store)) => object_target(store, &v),
        (Direction::ToObjectStorage, None) => return Ok(()),
        (Direction::ToFileSystem, _) => STORAGE_FILE_SYSTEM,
    };
    if v.storage == target {
        return Ok(());
    }
    move_files(app, &v, target).await.map_err(|e| match e {
        Error::NotFound(m) => Failure::Fail(format!("a file to move is missing: {m}")),
        e => Failure::Retry(e.to_string()),
    })
}

/// Copies every file of `v` from where it is to `target`, flips the row, removes the old copies.
async fn move_files(app: &App, v: &Video, target: i64) -> Result<()> {
    let store = app
        .object_storage
        .as_ref()
        .ok_or_else(|| Error::Internal("the video's files are in object storage, which is not configured".into()))?;
    let from = v.storage;
    let files = names(app, v).await?;
    if target != STORAGE_FILE_SYSTEM {
        keep_metadata(app, v).await;
    }
    let staging = app.data_path("tmp/transcode").join(format!("{}-move", v.uuid));
    for (kind, name) in &files {
        let local = local_path(app, v, *kind, name);
        match (from, target) {
            (STORAGE_FILE_SYSTEM, to) => store.upload(to, *kind, &v.uuid, name, &local).await?,
            (from, STORAGE_FILE_SYSTEM) => {
                tokio::fs::create_dir_all(local.parent().expect("a file in a directory")).await.map_err(io)?;
                // A file already here from an earlier move that died is checked, not fetched again.
                let have = tokio::fs::metadata(&local).await.map(|m| m.len()).ok();
                if have != Some(store.size(from, *kind, &v.uuid, name).await?) {
                    store.download(from, *kind, &v.uuid, name, &local).await?;
                }
            }
            (from, to) => {
                tokio::fs::create_dir_all(&staging).await.map_err(io)?;
                let tmp = staging.join(name);
                store.download(from, *kind, &v.uuid, name, &tmp).await?;
                store.upload(to, *kind, &v.uuid, name, &tmp).await?;
                let _ = tokio::fs::remove_file(&tmp).await;
            }
        }
    }
    let _ = tokio::fs::remove_dir_all(&staging).await;
    // The row flipped and, for a published video, an `Update` (its files' URLs changed) in one
    // transaction.
    let mut tx = app.db.begin().await?;
    if !videos::set_storage(&mut tx, v.id, from, target).await? {
        return Err(Error::Conflict("the video's files were moved by someone else".into()));
    }
    if v.state == 1 {
        let was_federated = crate::ap::federates(app, v);
        crate::events::record(&mut tx, crate::events::Event::VideoUpdated { video_id: v.id, was_federated }).await?;
    }
    tx.commit().await?;
    app.wake_jobs();
    crate::video::forget_files(app, &v.uuid).await;
    tracing::info!(video = %v.uuid, from, to = target, files = files.len(), "video files moved");
    // The old copies: nobody is sent to them any more.
    remove_copies(app, v, from, &files).await;
    Ok(())
}

/// Removes the copies of `files` at `storage`; a failure is logged (they are unreferenced).
async fn remove_copies(app: &App, v: &Video, storage: i64, files: &[(Kind, String)]) {
    if storage == STORAGE_FILE_SYSTEM {
        for (kind, name) in files {
            let _ = tokio::fs::remove_file(local_path(app, v, *kind, name)).await;
        }
        // The video's directories, when nothing else is left in them.
        let _ = tokio::fs::remove_dir(crate::video::hls_dir(app, &v.uuid)).await;
        let _ = tokio::fs::remove_dir(crate::video::files::web_dir(app, &v.uuid)).await;
        return;
    }
    let Some(store) = &app.object_storage else { return };
    for (kind, name) in files {
        if let Err(e) = store.delete(storage, *kind, &v.uuid, name).await {
            tracing::warn!(video = %v.uuid, file = name, error = %e, "cannot remove a stored copy");
        }
    }
}

/// Keeps what ffprobe reads in each of the video's files, while they are still on the disk.
async fn keep_metadata(app: &App, v: &Video) {
    let Ok(files) = videos::all_files(&app.db, v.id).await else { return };
    for f in files {
        if videos::file_metadata(&app.db, f.id).await.ok().flatten().is_some() {
            continue;
        }
        let path = crate::video::files::path_of(app, &v.uuid, &f);
        if let Ok((_, text)) = flotilla_media::probe::probe(&path).await {
            let _ = videos::set_file_metadata(&app.db, f.id, &text).await;
        }
    }
}

/// Brings a video's files back to the disk before work that reads or writes them there (a new
/// transcoding): nothing to do for a video on the disk.
pub async fn ensure_local(app: &App, v: &Video) -> Result<()> {
    if v.storage == STORAGE_FILE_SYSTEM {
        return Ok(());
    }
    move_files(app, v, STORAGE_FILE_SYSTEM).await
}

/// In the transaction that finishes a video's transcoding or changes its privacy: queues the
/// move that puts its files where they belong, when the object store is on.
pub async fn queue_move(tx: &mut flotilla_db::Tx, app: &App, v: &Video) -> Result<()> {
    if !app.config.object_storage.enabled || app.object_storage.is_none() || !v.is_local() || v.is_live {
        return Ok(());
    }
    crate::jobs::enqueue(tx, &crate::jobs::Job::MoveToObjectStorage { video_id: v.id }).await?;
    Ok(())
}

/// In the transaction changing a video's privacy (or block): when its files are in the object
/// store and it changed between "anybody may read" and not, the move to the other bucket (or to
/// the disk, without a private bucket), whether or not new videos go to the store.
pub async fn privacy_changed(tx: &mut flotilla_db::Tx, before: &Video, after: &Video) -> Result<()> {
    if before.storage == STORAGE_FILE_SYSTEM || readable_by_anyone(before) == readable_by_anyone(after) {
        return Ok(());
    }
    crate::jobs::enqueue(&mut *tx, &crate::jobs::Job::MoveToObjectStorage { video_id: before.id }).await?;
    Ok(())
}

/// In the transaction deleting a video's rows: when its files are in the object store, a job
/// that removes them (their names read now, before the rows go).
pub async fn deleting(tx: &mut flotilla_db::Tx, v: &Video) -> Result<()> {
    let source = videos::source(&mut *tx, v.id).await?;
    if source.original_stored
        && let Some(name) = source.original_file
    {
        original_gone(&mut *tx, &v.uuid, &name).await?;
    }
    if v.storage == STORAGE_FILE_SYSTEM {
        return Ok(());
    }
    let mut files = Vec::new();
    for f in videos::all_files(&mut *tx, v.id).await? {
        if f.kind == videos::KIND_WEB {
            files.push(("web".to_string(), f.filename));
        } else {
            files.push(("hls".to_string(), f.filename));
            files.push(("hls".to_string(), f.playlist));
        }
    }
    for name in [&v.master_playlist, &v.segments_sha256].into_iter().flatten() {
        files.push(("hls".to_string(), name.clone()));
    }
    for c in flotilla_db::captions::of_video(&mut *tx, v.id).await? {
        if let Some(name) = c.filename {
            files.push(("caption".to_string(), name));
        }
    }
    let job = crate::jobs::Job::RemoveObjects { uuid: v.uuid.clone(), storage: v.storage, files };
    crate::jobs::enqueue(&mut *tx, &job).await?;
    Ok(())
}

fn store_has_private(app: &App) -> bool {
    app.object_storage.as_ref().is_some_and(ObjectStorage::has_private)
}

/// Whether kept originals and user exports go to the object store: with `enabled` and a private
/// bucket (they are never public: only their owners download them).
pub fn wants_originals(app: &App) -> bool {
    app.config.object_storage.enabled && app.object_storage.as_ref().is_some_and(ObjectStorage::has_private)
}

/// In a transaction that drops a stored original (replaced, removed by a moderator, its video
/// deleted): the job removing its object.
pub async fn original_gone(tx: &mut flotilla_db::Tx, uuid: &str, name: &str) -> Result<()> {
    let job = crate::jobs::Job::RemoveObjects {
        uuid: uuid.to_string(),
        storage: STORAGE_OBJECT_PRIVATE,
        files: vec![("original".to_string(), name.to_string())],
    };
    crate::jobs::enqueue(&mut *tx, &job).await?;
    Ok(())
}

/// The `store-original` job: a video's kept original copied to the private bucket (its size
/// checked), the video switched to it in one update fenced by the original's name, then the disk's
/// copy removed. Killed anywhere, the video names a complete copy; run again, it copies again.
pub async fn store_original(app: &App, video_id: i64) -> std::result::Result<(), Failure> {
    let retry = |e: Error| Failure::Retry(e.to_string());
    let Some(store) = app.object_storage.as_ref().filter(|s| s.has_private()) else {
        return Ok(()); // configured away since it was queued: the original stays on the disk
    };
    let Some(v) = videos::get(&app.db, video_id).await.map_err(|e| retry(e.into()))? else { return Ok(()) };
    let source = videos::source(&app.db, v.id).await.map_err(|e| retry(e.into()))?;
    let (Some(name), false) = (source.original_file, source.original_stored) else { return Ok(()) };
    let local = crate::video::source::originals_dir(app).join(&name);
    if !local.exists() {
        return Err(Failure::Fail(format!("the kept original {name} is missing from the disk")));
    }
    store.upload(STORAGE_OBJECT_PRIVATE, Kind::Original, &v.uuid, &name, &local).await.map_err(retry)?;
    if videos::set_original_stored(&app.db, v.id, &name).await.map_err(|e| retry(e.into()))? {
        let _ = tokio::fs::remove_file(&local).await;
        tracing::info!(video = %v.uuid, "kept original moved to the object store");
    } else {
        // Replaced or removed meanwhile: the copy is nobody's.
        let _ = store.delete(STORAGE_OBJECT_PRIVATE, Kind::Original, &v.uuid, &name).await;
    }
    Ok(())
}

/// The `remove-objects` job.
pub async fn remove_objects(
    app: &App,
    uuid: &str,
    storage: i64,
    files: &[(String, String)],
) -> std::result::Result<(), Failure> {
    let Some(store) = &app.object_storage else {
        return Err(Failure::Fail("object storage is not configured".into()));
    };
    for (kind, name) in files {
        let kind = match kind.as_str() {
            "web" => Kind::Web,
            "original" => Kind::Original,
            "user-export" => Kind::UserExport,
            "image" => Kind::Image,
            "caption" => Kind::Caption,
            _ => Kind::Hls,
        };
        store.delete(storage, kind, uuid, name).await.map_err(|e| Failure::Retry(e.to_string()))?;
    }
    Ok(())
}

/// `flotilla admin move-to-object-storage|move-to-file-system [UUID]`: queues the move of every
/// local video not yet there (or of one), for the instance's job workers. Safe to run again: a
/// video already moved is skipped, one whose move is queued is not queued twice. How many.
pub async fn queue_all(app: &App, direction: Direction, only: Option<&str>) -> Result<usize> {
    if app.object_storage.is_none() {
        return Err(Error::bad_request(
            "object_storage_not_configured",
            "configure [object_storage] (endpoint, keys, buckets) first",
        ));
    }
    let from: &[i64] = match direction {
        Direction::ToObjectStorage => &[STORAGE_FILE_SYSTEM],
        Direction::ToFileSystem => &[STORAGE_OBJECT, STORAGE_OBJECT_PRIVATE],
    };
    let mut ids = Vec::new();
    match only {
        Some(key) => {
            let v = videos::get_by_any_id(&app.db, key).await?.filter(Video::is_local);
            let v = v.ok_or_else(|| Error::not_found("video"))?;
            ids.push(v.id);
        }
        None => {
            for storage in from {
                let mut after = 0;
                loop {
                    let page = videos::ids_in_storage(&app.db, *storage, after, 500).await?;
                    let Some(last) = page.last() else { break };
                    after = *last;
                    ids.extend(page);
                }
            }
        }
    }
    for chunk in ids.chunks(500) {
        let mut tx = app.db.begin().await?;
        for id in chunk {
            crate::jobs::enqueue(&mut tx, &crate::jobs::Job::move_job(*id, direction)).await?;
        }
        tx.commit().await?;
    }
    // Images: to the bucket by the `store-images` job while `enabled` (queued by the jobs role as
    // they settle, and now); back only when not `enabled`, or they would go straight back up.
    if only.is_none() && app.object_storage.as_ref().is_some_and(ObjectStorage::has_images) {
        let job = match direction {
            Direction::ToObjectStorage if crate::image_storage::wants(app) => {
                Some(crate::jobs::Job::StoreImages { settle_secs: crate::image_storage::SETTLE.as_secs() })
            }
            Direction::ToFileSystem if !app.config.object_storage.enabled => {
                Some(crate::jobs::Job::ImagesToFileSystem {})
            }
            _ => None,
        };
        if let Some(job) = job {
            crate::jobs::enqueue(&app.db, &job).await?;
        }
    }
    // Kept originals go to the private bucket with the rest (they stay there on the way back:
    // they are only downloaded, never served to players).
    if direction == Direction::ToObjectStorage && store_has_private(app) {
        let originals = match only {
            Some(_) => ids.clone(),
            None => {
                let (mut all, mut after) = (Vec::new(), 0);
                loop {
                    let page = videos::ids_with_local_original(&app.db, after, 500).await?;
                    let Some(last) = page.last() else { break };
                    after = *last;
                    all.extend(page);
                }
                all
            }
        };
        for chunk in originals.chunks(500) {
            let mut tx = app.db.begin().await?;
            for id in chunk {
                crate::jobs::enqueue(&mut tx, &crate::jobs::Job::StoreOriginal { video_id: *id }).await?;
            }
            tx.commit().await?;
        }
    }
    Ok(ids.len())
}
