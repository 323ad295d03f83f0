//! Object storage on a real S3 server (Garage, started per test on private ports): a video's files
//! go to the buckets after transcoding and the API points at them; a private video's go to the
//! private bucket and are streamed through us to those who may see it; moves to the disk and back
//! keep every byte; an outage of the store during a move loses nothing and the move finishes
//! once the store is back; a deleted video's objects go.

use flotilla_app::storage::Direction;
use flotilla_testkit::reqwest::{self, StatusCode};
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, GARAGE_BUCKETS, Garage, TestInstance, db_tests};
use sha2::{Digest, Sha256};

db_tests!(
    a_videos_files_live_in_the_object_store,
    moves_keep_every_byte_and_survive_an_outage,
    kept_originals_live_in_the_private_bucket,
    user_archives_live_in_the_private_bucket,
    images_live_in_their_bucket_behind_our_urls,
    captions_live_with_their_videos_files,
);

const HLS: &str = GARAGE_BUCKETS[0];
const WEB: &str = GARAGE_BUCKETS[1];
const PRIVATE: &str = GARAGE_BUCKETS[2];
const IMAGES: &str = GARAGE_BUCKETS[3];

async fn video(t: &TestInstance, uuid: &str, token: Option<&str>) -> Value {
    let (status, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), token).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn of(keys: &[String], uuid: &str) -> Vec<String> {
    keys.iter().filter(|k| k.contains(uuid)).cloned().collect()
}

async fn a_videos_files_live_in_the_object_store(backend: Backend) {
    let garage = Garage::start().await;
    let t = TestInstance::start_with(backend, |c| {
        c.transcoding.resolutions = vec![144];
        garage.configure(c);
    })
    .await;
    let owner = t.user("olga").await;
    let uuid = t.publish(&owner, "Harbour at dawn", &[]).await;
    t.run_jobs().await;

    // In the buckets (listed through S3 by another client), no longer on the disk.
    let v = video(&t, &uuid, None).await;
    let rendition = &v["streamingPlaylists"][0]["files"][0];
    let hls_keys = of(&garage.list(HLS), &uuid);
    // Master playlist, hashes, and the rendition's fragmented MP4 and playlist.
    assert_eq!(hls_keys.len(), 4, "{hls_keys:?}");
    let web_name = v["files"][0]["fileUrl"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    assert!(garage.list(WEB).contains(&web_name), "{web_name}");
    let hls_dir = t.dir.path().join("data/streaming-playlists/hls").join(&uuid);
    let left: Vec<_> = std::fs::read_dir(&hls_dir).map(|d| d.flatten().collect()).unwrap_or_default();
    assert!(left.is_empty(), "files left on the disk: {left:?}");

    // The API's URLs are the buckets' (their base_url); ours stays the fallback and the swarm.
    let base = format!("http://{HLS}.web.localhost:{}/{uuid}/", garage.web_port);
    let playlist = v["streamingPlaylists"][0]["playlistUrl"].as_str().unwrap();
    assert!(playlist.starts_with(&base), "{playlist}");
    assert!(v["streamingPlaylists"][0]["segmentsSha256Url"].as_str().unwrap().starts_with(&base));
    assert!(rendition["fileUrl"].as_str().unwrap().starts_with(&base), "{rendition}");
    assert_eq!(rendition["storage"], 1);
    let ours = v["streamingPlaylists"][0]["originPlaylistUrl"].as_str().unwrap();
    assert!(ours.starts_with(&t.api.url("/static/streaming-playlists/hls/")), "{ours}");
    let web_url = v["files"][0]["fileUrl"].as_str().unwrap();
    assert!(web_url.starts_with(&format!("http://{WEB}.web.localhost:{}/", garage.web_port)), "{web_url}");

    // The public reads them from the store; our URLs send players there.
    let key = playlist.strip_prefix(&format!("http://{HLS}.web.localhost:{}/", garage.web_port)).unwrap();
    let from_store = garage.public_get(HLS, key).await;
    assert_eq!(from_store.status(), StatusCode::OK);
    let master_text = from_store.text().await.unwrap();
    assert!(master_text.starts_with("#EXTM3U"), "{master_text}");
    let fmp4 = rendition["fileUrl"].as_str().unwrap().rsplit('/').next().unwrap();
    let bytes = garage.public_get(HLS, &format!("{uuid}/{fmp4}")).await.bytes().await.unwrap();
    assert_eq!(bytes.len() as i64, rendition["size"].as_i64().unwrap());
    let resp = no_redirects().get(ours).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(resp.headers()["location"], playlist);
    // The file's metadata was kept before it left the disk.
    let (status, meta) = t.api.get(&format!("/api/v1/videos/{uuid}/metadata/{}", rendition["id"]), None).await;
    assert_eq!(status, StatusCode::OK, "{meta}");
    assert!(meta["streams"].as_array().is_some_and(|s| !s.is_empty()), "{meta}");
    assert!(meta["format"].get("filename").is_none());
    // A download streams from the store, as an attachment.
    let resp = t.api.http.get(rendition["fileDownloadUrl"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    assert_eq!(resp.bytes().await.unwrap(), bytes);

    // Made private: its files move to the private bucket, read only through us.
    let (status, body) = t.api.put(&format!("/api/v1/videos/{uuid}"), Some(&owner), json!({ "privacy": 3 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    t.run_jobs().await;
    assert!(of(&garage.list(HLS), &uuid).is_empty(), "left in the public bucket");
    assert!(!garage.list(WEB).contains(&web_name));
    let private_keys = of(&garage.list(PRIVATE), &uuid);
    assert_eq!(private_keys.len(), 4, "{private_keys:?}");
    assert!(
        !garage.public_get(PRIVATE, &private_keys[0]).await.status().is_success(),
        "the private bucket has no public reads"
    );
    let v = video(&t, &uuid, Some(&owner)).await;
    let playlist = v["streamingPlaylists"][0]["playlistUrl"].as_str().unwrap().to_string();
    assert!(playlist.starts_with(&t.api.url("/static/streaming-playlists/hls/")), "{playlist}");
    let file_url = v["streamingPlaylists"][0]["files"][0]["fileUrl"].as_str().unwrap().to_string();
    assert_eq!(v["streamingPlaylists"][0]["files"][0]["storage"], 1);
    // Nobody without a right to it.
    assert_eq!(t.api.http.get(&playlist).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(t.api.http.get(&file_url).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    // Its owner: streamed through us, ranges kept.
    let resp = t.api.http.get(&playlist).bearer_auth(&owner).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["cache-control"].to_str().unwrap().starts_with("private"), "no shared cache keeps it");
    assert_eq!(resp.text().await.unwrap(), master_text);
    let resp = t.api.http.get(&file_url).bearer_auth(&owner).header("Range", "bytes=100-1099").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.headers()["content-range"], format!("bytes 100-1099/{}", bytes.len()));
    assert_eq!(resp.bytes().await.unwrap(), bytes.slice(100..1100));
    let n = bytes.len();
    let resp = t.api.http.get(&file_url).bearer_auth(&owner).header("Range", "bytes=-100").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.headers()["content-range"], format!("bytes {}-{}/{n}", n - 100, n - 1));
    assert_eq!(resp.bytes().await.unwrap(), bytes.slice(n - 100..));
    let resp = t.api.http.get(&file_url).bearer_auth(&owner).header("Range", "bytes=999999999-").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(resp.headers()["content-range"], format!("bytes */{n}"));

    // Deleted: its objects go.
    let (status, _) = t.api.delete(&format!("/api/v1/videos/{uuid}"), Some(&owner)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    t.run_jobs().await;
    assert!(of(&garage.list(PRIVATE), &uuid).is_empty());
}

/// Every file of the video (name → SHA-256), read where its row says it is.
async fn hashes(t: &TestInstance, garage: &Garage, uuid: &str) -> Vec<(String, String)> {
    let dir = t.dir.path().join("data/streaming-playlists/hls").join(uuid);
    let keys = of(&garage.list(HLS), uuid);
    let mut out = Vec::new();
    if keys.is_empty() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let bytes = std::fs::read(e.path()).unwrap();
            out.push((e.file_name().to_string_lossy().into_owned(), hex::encode(Sha256::digest(&bytes))));
        }
    } else {
        for k in keys {
            let bytes = garage.public_get(HLS, &k).await.bytes().await.unwrap();
            out.push((k.rsplit('/').next().unwrap().to_string(), hex::encode(Sha256::digest(&bytes))));
        }
    }
    out.sort();
    out
}

async fn make_due(t: &TestInstance) {
    let db = &t.instance.app.db;
    flotilla_db::run!(db, |x| sqlx::query("UPDATE jobs SET run_at = 0 WHERE state = 'queued'")
        .execute(x)
        .await
        .map(|_| ()))
    .unwrap();
}

async fn moves_keep_every_byte_and_survive_an_outage(backend: Backend) {
    let mut garage = Garage::start().await;
    let t = TestInstance::start_with(backend, |c| {
        c.transcoding.resolutions = vec![144];
        garage.configure(c);
    })
    .await;
    let app = &t.instance.app;
    let owner = t.user("piet").await;
    let uuid = t.publish(&owner, "Tugboat", &[]).await;
    t.run_jobs().await;
    let in_store = hashes(&t, &garage, &uuid).await;
    assert_eq!(in_store.len(), 4);

    // To the disk: every file byte-identical, the buckets emptied of it, still served.
    let n = flotilla_app::storage::queue_all(app, Direction::ToFileSystem, None).await.unwrap();
    assert_eq!(n, 1);
    t.run_jobs().await;
    assert!(of(&garage.list(HLS), &uuid).is_empty());
    assert_eq!(hashes(&t, &garage, &uuid).await, in_store);
    let v = video(&t, &uuid, None).await;
    let playlist = v["streamingPlaylists"][0]["playlistUrl"].as_str().unwrap().to_string();
    assert!(playlist.starts_with(&t.api.url("/")), "{playlist}");
    assert_eq!(v["streamingPlaylists"][0]["files"][0]["storage"], 0);
    // Asked again: nothing to move.
    assert_eq!(flotilla_app::storage::queue_all(app, Direction::ToFileSystem, None).await.unwrap(), 0);

    // Back to the store while it is down: the move fails, is retried, and loses nothing.
    garage.stop();
    assert_eq!(flotilla_app::storage::queue_all(app, Direction::ToObjectStorage, None).await.unwrap(), 1);
    t.run_jobs().await;
    let v = video(&t, &uuid, None).await;
    assert_eq!(v["streamingPlaylists"][0]["files"][0]["storage"], 0, "still on the disk");
    assert_eq!(t.api.http.get(&playlist).send().await.unwrap().status(), StatusCode::OK);
    let (status, queued) =
        t.api.get("/api/v1/jobs/delayed?jobType=move-to-object-storage", Some(&t.admin_token().await)).await;
    assert_eq!(status, StatusCode::OK, "{queued}");
    assert_eq!(queued["total"], 1, "the move waits for its retry: {queued}");

    garage.restart().await;
    make_due(&t).await;
    t.run_jobs().await;
    let v = video(&t, &uuid, None).await;
    assert_eq!(v["streamingPlaylists"][0]["files"][0]["storage"], 1);
    assert_eq!(hashes(&t, &garage, &uuid).await, in_store, "the same bytes in the store");
    let dir = t.dir.path().join("data/streaming-playlists/hls").join(&uuid);
    assert_eq!(std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0), 0, "the disk's copies removed");

    // The store down while a file is read through us (a download): a clear 502, the server alive.
    garage.stop();
    let download = v["streamingPlaylists"][0]["files"][0]["fileDownloadUrl"].as_str().unwrap().to_string();
    let resp = t.api.http.get(&download).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "object_storage_unavailable", "{body}");
    let (status, _) = t.api.get("/api/v1/config", None).await;
    assert_eq!(status, StatusCode::OK);
    garage.restart().await;
    assert_eq!(t.api.http.get(&download).send().await.unwrap().status(), StatusCode::OK);
}

/// A file above `max_upload_part` goes up in parts (S3's multipart upload) and comes back whole.
#[tokio::test]
async fn large_files_go_up_in_parts_and_come_back_whole() {
    let garage = Garage::start().await;
    let mut c = flotilla_app::Config::default();
    garage.configure(&mut c);
    c.object_storage.max_upload_part = 5 * 1024 * 1024;
    let store = flotilla_app::storage::ObjectStorage::new(&c.object_storage).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // 12 MiB and a bit of varied bytes: three parts, the last one short.
    let bytes: Vec<u8> =
        (0..12 * 1024 * 1024 + 12_345u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let src = dir.path().join("big.mp4");
    std::fs::write(&src, &bytes).unwrap();
    let kind = flotilla_app::storage::Kind::Web;
    store.upload(1, kind, "uuid-x", "big.mp4", &src).await.unwrap();
    assert!(garage.list(WEB).contains(&"big.mp4".to_string()));
    let back = dir.path().join("back.mp4");
    store.download(1, kind, "uuid-x", "big.mp4", &back).await.unwrap();
    assert_eq!(hex::encode(Sha256::digest(std::fs::read(&back).unwrap())), hex::encode(Sha256::digest(&bytes)));
    // A range of it, as a player asks.
    let range = flotilla_app::storage::ByteRange::Between(6_000_000, 6_000_099);
    let read = store.get(1, kind, "uuid-x", "big.mp4", Some(range)).await.unwrap();
    assert_eq!(read.size, bytes.len() as u64);
    assert_eq!(read.range, 6_000_000..6_000_100);
    // Gone once deleted; deleting again is no error.
    store.delete(1, kind, "uuid-x", "big.mp4").await.unwrap();
    store.delete(1, kind, "uuid-x", "big.mp4").await.unwrap();
    assert!(!garage.list(WEB).contains(&"big.mp4".to_string()));
}

fn originals(keys: &[String], uuid: &str) -> Vec<String> {
    keys.iter().filter(|k| k.contains("original-video-files/") && k.contains(uuid)).cloned().collect()
}

async fn kept_originals_live_in_the_private_bucket(backend: Backend) {
    let garage = Garage::start().await;
    let t = TestInstance::start_with(backend, |c| {
        c.transcoding.resolutions = vec![144];
        c.transcoding.keep_original = true;
        garage.configure(c);
    })
    .await;
    let owner = t.user("otto").await;
    let stranger = t.user("sven").await;
    let uuid = t.publish(&owner, "Kept whole", &[]).await;
    let uploaded = std::fs::read(t.dir.path().join("f.mp4")).unwrap();
    t.run_jobs().await;

    // In the private bucket (listed through S3), no longer on the disk.
    let keys = originals(&garage.list(PRIVATE), &uuid);
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(
        !garage.public_get(PRIVATE, &keys[0]).await.status().is_success(),
        "the private bucket has no public reads"
    );
    let on_disk: Vec<_> = std::fs::read_dir(t.dir.path().join("data/original-video-files"))
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(on_disk.is_empty(), "left on the disk: {on_disk:?}");

    // Its owner downloads it byte for byte, streamed from the store; nobody else gets it.
    let (status, source) = t.api.get(&format!("/api/v1/videos/{uuid}/source"), Some(&owner)).await;
    assert_eq!(status, StatusCode::OK, "{source}");
    let url = source["fileDownloadUrl"].as_str().unwrap().to_string();
    let resp = t.api.http.get(&url).bearer_auth(&owner).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["cache-control"].to_str().unwrap().starts_with("private"));
    assert_eq!(Sha256::digest(resp.bytes().await.unwrap()), Sha256::digest(&uploaded));
    let resp = t.api.http.get(&url).bearer_auth(&owner).header("Range", "bytes=10-109").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.bytes().await.unwrap(), uploaded[10..110]);
    assert_eq!(t.api.http.get(&url).bearer_auth(&stranger).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(t.api.http.get(&url).send().await.unwrap().status(), StatusCode::NOT_FOUND);

    // A moderator removes it: its object goes.
    let admin = t.admin_token().await;
    let (status, body) = t.api.delete(&format!("/api/v1/videos/{uuid}/source/file"), Some(&admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    t.run_jobs().await;
    assert!(originals(&garage.list(PRIVATE), &uuid).is_empty());
    assert_eq!(t.api.http.get(&url).bearer_auth(&owner).send().await.unwrap().status(), StatusCode::NOT_FOUND);

    // A deleted video's original goes with it.
    let other = t.publish(&owner, "Kept, then deleted", &[]).await;
    t.run_jobs().await;
    assert_eq!(originals(&garage.list(PRIVATE), &other).len(), 1);
    let (status, body) = t.api.delete(&format!("/api/v1/videos/{other}"), Some(&owner)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    t.run_jobs().await;
    assert!(originals(&garage.list(PRIVATE), &other).is_empty(), "left in the store");
}

async fn user_archives_live_in_the_private_bucket(backend: Backend) {
    let garage = Garage::start().await;
    let t = TestInstance::start_with(backend, |c| {
        c.transcoding.resolutions = vec![144];
        garage.configure(c);
    })
    .await;
    let owner = t.user("xena").await;
    let (_, me) = t.api.get("/api/v1/users/me", Some(&owner)).await;
    let id = me["id"].as_i64().unwrap();
    let uuid = t.publish(&owner, "In the archive", &[]).await;
    t.run_jobs().await;
    // A caption added to the stored video goes to the store; the archive reads it from there.
    let (status, body) =
        put_caption(&t, &owner, &uuid, "en", "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nArchived\n").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = t
        .api
        .post(&format!("/api/v1/users/{id}/exports/request"), Some(&owner), json!({ "withVideoFiles": true }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The video's thumbnail in the images bucket (not on the disk) goes into the archive too.
    let moved = flotilla_app::image_storage::store_all(&t.instance.app, std::time::Duration::ZERO).await.unwrap();
    assert!(moved >= 2, "thumbnail and preview moved: {moved}");
    t.run_jobs().await;
    let (_, list) = t.api.get(&format!("/api/v1/users/{id}/exports"), Some(&owner)).await;
    let export = &list["data"][0];
    assert_eq!(export["state"]["id"], 3, "{list}");
    let link = export["privateDownloadUrl"].as_str().unwrap().to_string();
    let name = link.rsplit('/').next().unwrap().to_string();

    // In the private bucket, not on the disk.
    let keys: Vec<String> =
        garage.list(PRIVATE).into_iter().filter(|k| k.ends_with(&format!("user-exports/{name}"))).collect();
    assert_eq!(keys.len(), 1, "{:?}", garage.list(PRIVATE));
    assert!(!garage.public_get(PRIVATE, &keys[0]).await.status().is_success(), "no public reads");
    let on_disk: Vec<_> =
        std::fs::read_dir(t.dir.path().join("data/user-exports")).map(|d| d.flatten().collect()).unwrap_or_default();
    assert!(on_disk.is_empty(), "left on the disk: {on_disk:?}");

    // Its link streams it from the store: a whole zip of the size listed, with the video in it.
    let resp = t.api.http.get(&link).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    let zip = resp.bytes().await.unwrap();
    assert_eq!(zip.len() as i64, export["size"].as_i64().unwrap());
    // The video (its files in the store's public buckets) is in it, read back from the store.
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).unwrap();
    let inside = archive.by_name(&format!("files/videos/video-files/{uuid}.mp4")).map(|f| f.size()).unwrap_or(0);
    assert!(inside > 1000, "the video file in the archive: {inside} bytes");
    let preview =
        video(&t, &uuid, Some(&owner)).await["previewPath"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let stored = garage.public_get(IMAGES, &format!("previews/{preview}")).await.bytes().await.unwrap();
    let mut image = Vec::new();
    std::io::Read::read_to_end(
        &mut archive.by_name(&format!("files/videos/thumbnails/{uuid}.jpg")).unwrap(),
        &mut image,
    )
    .unwrap();
    assert!(stored.len() > 100 && image == stored, "the archive's thumbnail is the stored preview");
    let mut caption = String::new();
    std::io::Read::read_to_string(
        &mut archive.by_name(&format!("files/videos/captions/{uuid}-en.vtt")).unwrap(),
        &mut caption,
    )
    .unwrap();
    assert!(caption.contains("Archived"), "{caption}");

    // Deleted: its object goes.
    let export_id = export["id"].as_i64().unwrap();
    let (status, body) = t.api.delete(&format!("/api/v1/users/{id}/exports/{export_id}"), Some(&owner)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    t.run_jobs().await;
    assert!(garage.list(PRIVATE).iter().all(|k| !k.ends_with(&name)), "left in the store");
    assert_eq!(t.api.http.get(&link).send().await.unwrap().status(), StatusCode::NOT_FOUND);
}

/// Keys of the images bucket, by directory.
fn images_in(garage: &Garage, dir: &str) -> Vec<String> {
    garage.list(IMAGES).into_iter().filter_map(|k| k.strip_prefix(&format!("{dir}/")).map(String::from)).collect()
}

fn last_segment(path: &str) -> String {
    path.rsplit('/').next().unwrap().to_string()
}

/// Avatars, thumbnails and previews move to the images bucket once they have settled; their URLs
/// stay ours (PeerTube's `path`s) and redirect there; replaced or deleted ones leave the bucket;
/// a store down during the move loses nothing; the way back brings every byte home.
async fn images_live_in_their_bucket_behind_our_urls(backend: Backend) {
    let mut garage = Garage::start().await;
    let t = TestInstance::start_with(backend, |c| {
        c.transcoding.resolutions = vec![144];
        garage.configure(c);
    })
    .await;
    let app = &t.instance.app;
    let owner = t.user("ines").await;
    let pick = |bytes: Vec<u8>| {
        let form = reqwest::multipart::Form::new()
            .part("avatarfile", reqwest::multipart::Part::bytes(bytes).file_name("me.png"));
        t.api.send(t.api.http.post(t.api.url("/api/v1/users/me/avatar/pick")).bearer_auth(&owner).multipart(form))
    };
    let (status, body) = pick(flotilla_testkit::png(300, 300)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let avatars: Vec<String> =
        body["avatars"].as_array().unwrap().iter().map(|a| a["path"].as_str().unwrap().to_string()).collect();
    assert!(avatars.len() >= 2, "{body}");
    let uuid = t.publish(&owner, "Lighthouse", &[]).await;
    t.run_jobs().await;
    let v = video(&t, &uuid, None).await;
    let mut paths = avatars.clone();
    paths.push(v["thumbnailPath"].as_str().unwrap().to_string());
    paths.push(v["previewPath"].as_str().unwrap().to_string());
    let mut before = Vec::new();
    for p in &paths {
        let resp = t.api.http.get(t.api.url(p)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{p}");
        before.push(resp.bytes().await.unwrap());
    }

    // Not yet settled: nothing moves.
    assert_eq!(flotilla_app::image_storage::store_all(app, std::time::Duration::from_secs(3600)).await.unwrap(), 0);
    assert!(garage.list(IMAGES).is_empty());

    // Moved: in the bucket (listed through S3), off the disk, our URLs redirect to the bucket's,
    // which serves the same bytes to anybody.
    let moved = flotilla_app::image_storage::store_all(app, std::time::Duration::ZERO).await.unwrap();
    assert_eq!(moved, paths.len());
    assert_eq!(images_in(&garage, "images").len(), avatars.len());
    assert_eq!(images_in(&garage, "thumbnails"), [last_segment(&paths[avatars.len()])]);
    assert_eq!(images_in(&garage, "previews"), [last_segment(&paths[avatars.len() + 1])]);
    for dir in ["images", "thumbnails", "previews"] {
        let left: Vec<_> = std::fs::read_dir(t.dir.path().join("data").join(dir)).unwrap().flatten().collect();
        assert!(left.is_empty(), "left on the disk in {dir}: {left:?}");
    }
    let base = format!("http://{IMAGES}.web.localhost:{}/", garage.web_port);
    for (p, bytes) in paths.iter().zip(&before) {
        let resp = no_redirects().get(t.api.url(p)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FOUND, "{p}");
        let location = resp.headers()["location"].to_str().unwrap().to_string();
        let key = location.strip_prefix(&base).unwrap_or_else(|| panic!("{location} is not in the bucket"));
        assert!(key.ends_with(&last_segment(p)), "{key}");
        let from_store = garage.public_get(IMAGES, key).await;
        assert_eq!(from_store.status(), StatusCode::OK);
        assert_eq!(&from_store.bytes().await.unwrap(), bytes, "{p}: the same bytes");
    }
    // The API's paths are unchanged (PeerTube's shape: relative to us).
    assert_eq!(video(&t, &uuid, None).await["thumbnailPath"], v["thumbnailPath"]);
    // Names that are neither on the disk nor stored: 404, as before.
    for p in [
        "/lazy-static/avatars/0000-48x48.jpg",
        "/lazy-static/thumbnails/nothing.jpg",
        "/lazy-static/previews/..%2Fx.jpg",
    ] {
        let resp = no_redirects().get(t.api.url(p)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{p}");
    }

    // A new avatar: served from the disk until it moves; the old ones leave the bucket.
    let (status, body) = pick(flotilla_testkit::png(200, 200)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new_avatars: Vec<String> =
        body["avatars"].as_array().unwrap().iter().map(|a| a["path"].as_str().unwrap().to_string()).collect();
    t.run_jobs().await;
    assert!(images_in(&garage, "images").is_empty(), "old avatars left: {:?}", garage.list(IMAGES));
    assert_eq!(no_redirects().get(t.api.url(&avatars[0])).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(no_redirects().get(t.api.url(&new_avatars[0])).send().await.unwrap().status(), StatusCode::OK);

    // The store down during the move: it fails, the avatar stays on the disk and served; once the
    // store is back the next run moves it.
    garage.stop();
    assert!(flotilla_app::image_storage::store_all(app, std::time::Duration::ZERO).await.is_err());
    assert_eq!(no_redirects().get(t.api.url(&new_avatars[0])).send().await.unwrap().status(), StatusCode::OK);
    garage.restart().await;
    let moved = flotilla_app::image_storage::store_all(app, std::time::Duration::ZERO).await.unwrap();
    assert_eq!(moved, new_avatars.len());
    assert_eq!(no_redirects().get(t.api.url(&new_avatars[0])).send().await.unwrap().status(), StatusCode::FOUND);

    // Back to the disk: every image byte-identical, the bucket emptied, served by us again.
    let new_bytes = garage.public_get(IMAGES, &format!("images/{}", last_segment(&new_avatars[0]))).await.bytes().await;
    let back = flotilla_app::image_storage::to_file_system(app).await.unwrap();
    assert_eq!(back, new_avatars.len() + 2);
    assert!(garage.list(IMAGES).is_empty(), "{:?}", garage.list(IMAGES));
    let resp = no_redirects().get(t.api.url(&new_avatars[0])).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap(), new_bytes.unwrap());
    let resp = no_redirects().get(t.api.url(&paths[avatars.len()])).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap(), before[avatars.len()], "the thumbnail came back whole");

    // Up again, then the video deleted: its thumbnail and preview leave the bucket.
    flotilla_app::image_storage::store_all(app, std::time::Duration::ZERO).await.unwrap();
    assert_eq!(images_in(&garage, "thumbnails").len(), 1);
    let (status, body) = t.api.delete(&format!("/api/v1/videos/{uuid}"), Some(&owner)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    t.run_jobs().await;
    assert!(images_in(&garage, "thumbnails").is_empty() && images_in(&garage, "previews").is_empty());
    assert_eq!(images_in(&garage, "images").len(), new_avatars.len(), "the avatar stays");
}

async fn put_caption(t: &TestInstance, token: &str, uuid: &str, lang: &str, text: &str) -> (StatusCode, Value) {
    let form = reqwest::multipart::Form::new()
        .part("captionfile", reqwest::multipart::Part::bytes(text.as_bytes().to_vec()).file_name("c.vtt"));
    let req = t.api.http.put(t.api.url(&format!("/api/v1/videos/{uuid}/captions/{lang}"))).bearer_auth(token);
    t.api.send(req.multipart(form)).await
}

async fn caption_path(t: &TestInstance, uuid: &str, token: &str) -> String {
    let (status, list) = t.api.get(&format!("/api/v1/videos/{uuid}/captions"), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["data"][0]["captionPath"].as_str().unwrap().to_string()
}

/// A stored video's captions go to the store with its files: added there (a store that is down
/// refuses the caption, nothing changed), sent from the public bucket for a public video,
/// through us for a private one (nobody else reads it, no shared cache keeps it), back to the
/// disk with the rest, gone with the video.
async fn captions_live_with_their_videos_files(backend: Backend) {
    let mut garage = Garage::start().await;
    let t = TestInstance::start_with(backend, |c| {
        c.transcoding.resolutions = vec![144];
        garage.configure(c);
    })
    .await;
    let app = &t.instance.app;
    let owner = t.user("talia").await;
    let uuid = t.publish(&owner, "Spoken words", &[]).await;
    t.run_jobs().await;
    let first = "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nHello\n";
    let (status, body) = put_caption(&t, &owner, &uuid, "en", first).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let path = caption_path(&t, &uuid, &owner).await;
    let name = path.rsplit('/').next().unwrap().to_string();
    assert_eq!(of(&garage.list(HLS), &format!("{uuid}/captions/{name}")).len(), 1, "{:?}", garage.list(HLS));
    let on_disk = t.dir.path().join("data/captions").join(&uuid);
    assert_eq!(std::fs::read_dir(&on_disk).map(|d| d.count()).unwrap_or(0), 0, "left on the disk");
    let resp = no_redirects().get(t.api.url(&path)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&format!("http://{HLS}.web.localhost:{}/", garage.web_port)), "{location}");
    let vtt = garage.public_get(HLS, &format!("{uuid}/captions/{name}")).await.text().await.unwrap();
    assert!(vtt.starts_with("WEBVTT") && vtt.contains("Hello"), "{vtt}");

    // Replaced: the new one in the store, the old object gone.
    let (status, body) = put_caption(&t, &owner, &uuid, "en", &first.replace("Hello", "Bonjour")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    t.run_jobs().await;
    let path = caption_path(&t, &uuid, &owner).await;
    let name = path.rsplit('/').next().unwrap().to_string();
    let captions: Vec<String> = of(&garage.list(HLS), &format!("{uuid}/captions/"));
    assert_eq!(captions, [format!("{uuid}/captions/{name}")]);

    // The store down: a new caption is refused, nothing changed.
    garage.stop();
    let (status, body) = put_caption(&t, &owner, &uuid, "fr", first).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["code"], "object_storage_unavailable", "{body}");
    let (_, list) = t.api.get(&format!("/api/v1/videos/{uuid}/captions"), Some(&owner)).await;
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(std::fs::read_dir(&on_disk).map(|d| d.count()).unwrap_or(0), 0, "nothing left behind");
    garage.restart().await;

    // Private: in the private bucket, read only through us by those allowed.
    let (status, body) = t.api.put(&format!("/api/v1/videos/{uuid}"), Some(&owner), json!({ "privacy": 3 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    t.run_jobs().await;
    assert!(of(&garage.list(HLS), &uuid).is_empty());
    assert_eq!(of(&garage.list(PRIVATE), &format!("captions/{uuid}/{name}")).len(), 1, "{:?}", garage.list(PRIVATE));
    assert!(!no_redirects().get(t.api.url(&path)).send().await.unwrap().status().is_success(), "nobody else");
    let resp = no_redirects().get(t.api.url(&path)).bearer_auth(&owner).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["cache-control"].to_str().unwrap().starts_with("private"));
    assert!(resp.text().await.unwrap().contains("Bonjour"));

    // Back to the disk with the rest, byte-identical.
    flotilla_app::storage::queue_all(app, Direction::ToFileSystem, Some(&uuid)).await.unwrap();
    t.run_jobs().await;
    assert!(of(&garage.list(PRIVATE), &uuid).is_empty(), "{:?}", garage.list(PRIVATE));
    let local = std::fs::read_to_string(on_disk.join(&name)).unwrap();
    assert!(local.contains("Bonjour"), "{local}");
    let resp = no_redirects().get(t.api.url(&path)).bearer_auth(&owner).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["cache-control"].to_str().unwrap().starts_with("private"), "a private video's caption");
    assert_eq!(resp.text().await.unwrap(), local);

    // Public and in the store again, then deleted: its caption's object goes with the rest.
    let (status, body) = t.api.put(&format!("/api/v1/videos/{uuid}"), Some(&owner), json!({ "privacy": 1 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    flotilla_app::storage::queue_all(app, Direction::ToObjectStorage, Some(&uuid)).await.unwrap();
    t.run_jobs().await;
    assert_eq!(of(&garage.list(HLS), &format!("{uuid}/captions/")).len(), 1);
    let (status, _) = t.api.delete(&format!("/api/v1/videos/{uuid}"), Some(&owner)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    t.run_jobs().await;
    assert!(of(&garage.list(HLS), &uuid).is_empty(), "{:?}", garage.list(HLS));
}
