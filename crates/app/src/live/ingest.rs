//! The RTMP server: creators' streams come in here (OBS, ffmpeg: `rtmp://host:1935/live` and the
//! live's stream key); a remote runner plays a session it transcodes with its relay's key. The protocol (handshake, chunks, commands) is `rml_rtmp`'s; this module
//! decides. Everything before a stream key is accepted is hostile and bounded: a few seconds and
//! a few kilobytes to say which key, an unknown key refused at once — nothing is decoded, no
//! ffmpeg started, no file written for it. Once accepted the stream's bitrate and duration are
//! held to the configured limits, and a silent or vanished publisher ends the session.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use flotilla_media::live::{self as media, Source};
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

use super::stream::{Encoder, Remote, Transcoder};
use crate::App;

/// A connection's stream: TCP, or TLS over TCP (RTMPS).
trait Conn: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Conn for T {}

/// Connections open at once; more are closed as they come.
const MAX_CONNECTIONS: usize = 64;
/// Time and bytes a connection has to complete the handshake and name an accepted stream key.
const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(10);
const ANNOUNCE_MAX_BYTES: usize = 64 * 1024;
/// A publisher that sends nothing this long is gone.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Window over which the bitrate is measured.
const BITRATE_WINDOW: Duration = Duration::from_secs(10);
/// Before ffmpeg starts, what the stream holds is kept until both kinds of media were seen, or
/// this much stream time or these many bytes went by.
const PROBE_STREAM_MS: u32 = 2000;
const PROBE_MAX_BYTES: usize = 8 * 1024 * 1024;
/// The RTMP application name creators publish to (PeerTube's).
const APP_NAME: &str = "live";

/// Binds `[live] rtmp_listen` (and `rtmps_listen` when set), ends the sessions a previous
/// process left open, then takes streams until the process ends. A bind failure is logged and
/// remembered (lives are refused with the reason); the rest of the instance runs on.
pub async fn serve(app: Arc<App>) {
    let addr = app.config.live.rtmp_listen.clone();
    let listener = match TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            let why = format!("cannot listen for RTMP on {addr}: {e} (set [live] rtmp_listen)");
            tracing::error!("live streaming is unavailable: {why}");
            app.lives.set_rtmp(Err(why));
            return;
        }
    };
    let tls = match rtmps(&app).await {
        Ok(t) => t,
        Err(why) => {
            tracing::error!("live streaming is unavailable: {why}");
            app.lives.set_rtmp(Err(why));
            return;
        }
    };
    match super::recover(&app).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(count = n, "live sessions left open by the previous run were ended"),
        Err(e) => tracing::error!(error = %e, "cannot end the live sessions left open by the previous run"),
    }
    let open = Arc::new(AtomicUsize::new(0));
    if let Some((l, acceptor)) = tls {
        if let Ok(a) = l.local_addr() {
            app.lives.set_rtmps(a);
            tracing::info!(listen = %a, "RTMPS server listening for lives");
        }
        tokio::spawn(accept_loop(app.clone(), l, Some(acceptor), open.clone()));
    }
    if let Ok(a) = listener.local_addr() {
        app.lives.set_rtmp(Ok(a));
        tracing::info!(listen = %a, "RTMP server listening for lives");
    }
    accept_loop(app, listener, None, open).await;
}

/// The RTMPS listener and its TLS settings, when configured.
async fn rtmps(app: &App) -> Result<Option<(TcpListener, tokio_rustls::TlsAcceptor)>, String> {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let l = &app.config.live;
    if l.rtmps_listen.is_empty() {
        return Ok(None);
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&l.rtmps_cert_file)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read the RTMPS certificate {}: {e}", l.rtmps_cert_file))?;
    let key = PrivateKeyDer::from_pem_file(&l.rtmps_key_file)
        .map_err(|e| format!("cannot read the RTMPS private key {}: {e}", l.rtmps_key_file))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|e| format!("the RTMPS certificate or key is not usable: {e}"))?;
    let listener = TcpListener::bind(&l.rtmps_listen)
        .await
        .map_err(|e| format!("cannot listen for RTMPS on {}: {e} (set [live] rtmps_listen)", l.rtmps_listen))?;
    Ok(Some((listener, tokio_rustls::TlsAcceptor::from(Arc::new(config)))))
}

async fn accept_loop(
    app: Arc<App>,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    open: Arc<AtomicUsize>,
) {
    loop {
        let (sock, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "RTMP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if open.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
            drop(sock);
            continue;
        }
        let _ = sock.set_nodelay(true);
        open.fetch_add(1, Ordering::Relaxed);
        let (app, open, tls) = (app.clone(), open.clone(), tls.clone());
        tokio::spawn(async move {
            match tls {
                // The TLS handshake counts in the time a connection has to name its key.
                Some(acceptor) => match tokio::time::timeout(ANNOUNCE_TIMEOUT, acceptor.accept(sock)).await {
                    Ok(Ok(s)) => connection(app, s, peer).await,
                    Ok(Err(e)) => tracing::info!(%peer, error = %e, "RTMPS handshake failed"),
                    Err(_) => tracing::info!(%peer, "RTMPS handshake timed out"),
                },
                None => connection(app, sock, peer).await,
            }
            open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// A connection's failure, for the log.
type Failed = String;

async fn connection(app: Arc<App>, mut sock: impl Conn, peer: SocketAddr) {
    let announced = tokio::time::timeout(ANNOUNCE_TIMEOUT, announce(&app, &mut sock)).await;
    let (mut session, started, leftover) = match announced {
        Ok(Ok(Some(Announced::Publish(session, started, leftover)))) => (session, *started, leftover),
        Ok(Ok(Some(Announced::Play { session, stream_id, relay, results }))) => {
            play(&mut sock, session, stream_id, relay, results).await;
            let _ = sock.shutdown().await;
            return;
        }
        Ok(Ok(None)) => return,
        Ok(Err(why)) => {
            tracing::info!(%peer, why, "RTMP connection refused");
            return;
        }
        Err(_) => {
            tracing::info!(%peer, "RTMP connection closed: no stream key accepted in time");
            return;
        }
    };
    let video_id = started.video.id;
    let session_id = started.session_id;
    let (error, aired) = stream(&app, &mut sock, &mut session, started, leftover).await;
    super::end(&app, video_id, session_id, error, aired).await;
    let _ = sock.shutdown().await;
}

/// What a connection has once its key is accepted: a publisher's session, or a runner playing
/// a session it transcodes.
enum Announced {
    Publish(ServerSession, Box<super::Started>, Vec<ServerSessionResult>),
    Play {
        session: ServerSession,
        stream_id: u32,
        relay: std::sync::Arc<super::Relay>,
        results: Vec<ServerSessionResult>,
    },
}

/// A runner plays a session (its job's `rtmpUrl`): the relay's tags are sent as they come,
/// until the session ends, the runner leaves, or it falls too far behind.
async fn play(
    sock: &mut impl Conn,
    mut session: ServerSession,
    stream_id: u32,
    relay: std::sync::Arc<super::Relay>,
    results: Vec<ServerSessionResult>,
) {
    use rml_rtmp::time::RtmpTimestamp;
    if write_results(sock, results).await.is_err() {
        return;
    }
    let (first, mut rx) = relay.subscribe();
    drop(relay);
    let send = |session: &mut ServerSession, (kind, ts, data): super::Tag| {
        let ts = RtmpTimestamp::new(ts);
        if kind == media::TAG_AUDIO {
            session.send_audio_data(stream_id, data, ts, false)
        } else {
            session.send_video_data(stream_id, data, ts, false)
        }
    };
    for tag in first {
        match send(&mut session, tag) {
            Ok(p) => {
                if sock.write_all(&p.bytes).await.is_err() {
                    return;
                }
            }
            Err(_) => return,
        }
    }
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            tag = rx.recv() => {
                let tag = match tag {
                    Ok(t) => t,
                    // Too far behind to follow, or the session ended.
                    Err(_) => break,
                };
                match send(&mut session, tag) {
                    Ok(p) => if sock.write_all(&p.bytes).await.is_err() { return },
                    Err(_) => return,
                }
            }
            read = sock.read(&mut buf) => {
                let n = match read { Ok(0) | Err(_) => return, Ok(n) => n };
                match session.handle_input(&buf[..n]) {
                    Ok(results) => if write_results(sock, results).await.is_err() { return },
                    Err(_) => return,
                }
            }
        }
    }
    if let Ok(p) = session.finish_playing(stream_id) {
        let _ = sock.write_all(&p.bytes).await;
    }
}

/// The handshake and the commands up to an accepted `publish`; `None` when the client left.
async fn announce(app: &App, sock: &mut impl Conn) -> Result<Option<Announced>, Failed> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut received = 0usize;
    let mut handshake = Handshake::new(PeerType::Server);
    let leftover = loop {
        let n = sock.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(None);
        }
        received += n;
        if received > ANNOUNCE_MAX_BYTES {
            return Err("too many bytes before a stream key".into());
        }
        match handshake.process_bytes(&buf[..n]).map_err(|e| format!("bad RTMP handshake: {e:?}"))? {
            HandshakeProcessResult::InProgress { response_bytes } => {
                sock.write_all(&response_bytes).await.map_err(|e| e.to_string())?;
            }
            HandshakeProcessResult::Completed { response_bytes, remaining_bytes } => {
                sock.write_all(&response_bytes).await.map_err(|e| e.to_string())?;
                break remaining_bytes;
            }
        }
    };
    let (mut session, first) =
        ServerSession::new(ServerSessionConfig::new()).map_err(|e| format!("RTMP session: {e:?}"))?;
    let mut pending = first;
    pending.extend(session.handle_input(&leftover).map_err(|e| format!("bad RTMP input: {e:?}"))?);
    loop {
        let mut next = Vec::new();
        for r in pending {
            match r {
                ServerSessionResult::OutboundResponse(p) => {
                    sock.write_all(&p.bytes).await.map_err(|e| e.to_string())?;
                }
                ServerSessionResult::RaisedEvent(ServerSessionEvent::ConnectionRequested { request_id, app_name }) => {
                    let results = if app_name == APP_NAME {
                        session.accept_request(request_id)
                    } else {
                        session.reject_request(request_id, "NetConnection.Connect.Rejected", "unknown application")
                    }
                    .map_err(|e| format!("RTMP session: {e:?}"))?;
                    if app_name != APP_NAME {
                        write_results(sock, results).await?;
                        return Err(format!("unknown RTMP application {app_name:?}"));
                    }
                    next.extend(results);
                }
                ServerSessionResult::RaisedEvent(ServerSessionEvent::PublishStreamRequested {
                    request_id,
                    app_name,
                    stream_key,
                    ..
                }) => {
                    if app_name != APP_NAME {
                        return Err(format!("publish to unknown RTMP application {app_name:?}"));
                    }
                    match super::begin(app, &stream_key).await {
                        Ok(started) => {
                            let results =
                                session.accept_request(request_id).map_err(|e| format!("RTMP session: {e:?}"))?;
                            // The rest of this round (media already sent) is the stream's.
                            let mut rest = results;
                            rest.extend(next);
                            return Ok(Some(Announced::Publish(session, Box::new(started), rest)));
                        }
                        Err(super::Refused(why)) => {
                            if let Ok(results) = session.reject_request(request_id, "NetStream.Publish.BadName", &why) {
                                let _ = write_results(sock, results).await;
                            }
                            return Err(why);
                        }
                    }
                }
                // Only a runner, with the secret key of the session it transcodes.
                ServerSessionResult::RaisedEvent(ServerSessionEvent::PlayStreamRequested {
                    request_id,
                    app_name,
                    stream_key,
                    stream_id,
                    ..
                }) => {
                    let relay = (app_name == APP_NAME).then(|| app.lives.relay(&stream_key)).flatten();
                    let Some(relay) = relay else {
                        if let Ok(results) =
                            session.reject_request(request_id, "NetStream.Play.StreamNotFound", "unknown stream")
                        {
                            let _ = write_results(sock, results).await;
                        }
                        return Err("playing over RTMP is only for the runner of a session".into());
                    };
                    let mut results = session.accept_request(request_id).map_err(|e| format!("RTMP session: {e:?}"))?;
                    results.extend(next);
                    return Ok(Some(Announced::Play { session, stream_id, relay, results }));
                }
                _ => {}
            }
        }
        if !next.is_empty() {
            pending = next;
            continue;
        }
        let n = sock.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(None);
        }
        received += n;
        if received > ANNOUNCE_MAX_BYTES {
            return Err("too many bytes before a stream key".into());
        }
        pending = session.handle_input(&buf[..n]).map_err(|e| format!("bad RTMP input: {e:?}"))?;
    }
}

async fn write_results(sock: &mut impl Conn, results: Vec<ServerSessionResult>) -> Result<(), Failed> {
    for r in results {
        if let ServerSessionResult::OutboundResponse(p) = r {
            sock.write_all(&p.bytes).await.map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// The media before ffmpeg starts, and what it says of the stream.
#[derive(Default)]
struct Probe {
    tags: Vec<(u8, u32, Bytes)>,
    bytes: usize,
    first_ts: Option<u32>,
    last_ts: u32,
    source: Source,
    audio_announced: bool,
    video_announced: bool,
}

impl Probe {
    fn push(&mut self, kind: u8, ts: u32, data: Bytes) {
        if kind == media::TAG_AUDIO {
            self.source.has_audio = true;
        } else {
            self.source.has_video = true;
        }
        self.first_ts.get_or_insert(ts);
        self.last_ts = ts;
        self.bytes += data.len();
        self.tags.push((kind, ts, data));
    }

    /// Enough is known to start ffmpeg.
    fn ready(&self) -> bool {
        let span = self.last_ts.saturating_sub(self.first_ts.unwrap_or(self.last_ts));
        let audio_ok = self.source.has_audio || !self.audio_announced;
        let video_ok = self.source.has_video || !self.video_announced;
        let announced = self.audio_announced || self.video_announced;
        (self.source.has_audio && self.source.has_video)
            || (announced && audio_ok && video_ok && !self.tags.is_empty())
            || span >= PROBE_STREAM_MS
            || self.bytes >= PROBE_MAX_BYTES
    }
}

/// Runs an accepted stream until it ends; returns the session's error (`None`: it ended as it
/// should, the creator stopping) and whether it aired (segments were out).
async fn stream(
    app: &App,
    sock: &mut impl Conn,
    session: &mut ServerSession,
    started: super::Started,
    first: Vec<ServerSessionResult>,
) -> (Option<i64>, bool) {
    let super::Started { video, live, mut stop, replay, owner, session_id, .. } = started;
    let dir = crate::video::hls_dir(app, &video.uuid);
    let limits = &app.config.live;
    let begun = Instant::now();
    let mut probe = Probe::default();
    let mut ffmpeg: Option<Encoder> = None;
    let mut window_start = Instant::now();
    let mut window_bytes = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut pending = first;
    let mut last_input = Instant::now();
    let mut stopping = app.stopping.subscribe();
    let mut aired = false;
    let error = 'session: loop {
        // What the last input raised: answers to send, media to pass on.
        for r in std::mem::take(&mut pending) {
            let (kind, ts, data) = match r {
                ServerSessionResult::OutboundResponse(p) => {
                    if sock.write_all(&p.bytes).await.is_err() {
                        break 'session None;
                    }
                    continue;
                }
                ServerSessionResult::RaisedEvent(ServerSessionEvent::StreamMetadataChanged { metadata, .. }) => {
                    probe.source.width = probe.source.width.or(metadata.video_width);
                    probe.source.height = probe.source.height.or(metadata.video_height);
                    probe.video_announced |= metadata.video_codec_id.is_some() || metadata.video_width.is_some();
                    probe.audio_announced |= metadata.audio_codec_id.is_some();
                    continue;
                }
                ServerSessionResult::RaisedEvent(ServerSessionEvent::AudioDataReceived { data, timestamp, .. }) => {
                    (media::TAG_AUDIO, timestamp.value, data)
                }
                ServerSessionResult::RaisedEvent(ServerSessionEvent::VideoDataReceived { data, timestamp, .. }) => {
                    (media::TAG_VIDEO, timestamp.value, data)
                }
                ServerSessionResult::RaisedEvent(ServerSessionEvent::PublishStreamFinished { .. }) => {
                    break 'session None;
                }
                _ => continue,
            };
            let replay = replay.clone();
            let at = (&video, session_id, live.latency_mode);
            if let Err(code) = feed(app, &dir, at, replay, &mut probe, &mut ffmpeg, kind, ts, data).await {
                break 'session Some(code);
            }
        }
        tokio::select! {
            read = sock.read(&mut buf) => {
                let n = match read {
                    Ok(0) | Err(_) => break 'session None,
                    Ok(n) => n,
                };
                last_input = Instant::now();
                window_bytes += n as u64;
                match session.handle_input(&buf[..n]) {
                    Ok(r) => pending = r,
                    Err(e) => {
                        tracing::info!(video = %video.uuid, error = ?e, "bad RTMP input: the live ends");
                        break 'session None;
                    }
                }
                // Published as soon as the watcher saw the first segment (not at the next tick).
                if !aired && let Some(master) = ffmpeg.as_ref().and_then(|f| f.take_master()) {
                    aired = true;
                    if let Err(e) = super::went_live(app, &video, session_id, &master).await {
                        tracing::error!(video = %video.uuid, error = %e, "cannot announce a live's start");
                    }
                }
            }
            // The instance stops: the session ends as if the creator had stopped.
            _ = stopping.changed() => break 'session None,
            _ = stop.changed() => {
                let code = (*stop.borrow()).filter(|c| *c != 0);
                break 'session code;
            }
            _ = tick.tick() => {
                if last_input.elapsed() > IDLE_TIMEOUT {
                    break 'session Some(super::ERROR_BAD_SOCKET_HEALTH);
                }
                if limits.max_duration_secs > 0 && begun.elapsed() > Duration::from_secs(limits.max_duration_secs) {
                    break 'session Some(super::ERROR_DURATION_EXCEEDED);
                }
                let window = window_start.elapsed();
                if window >= BITRATE_WINDOW {
                    let kbps = window_bytes * 8 / 1000 / window.as_secs().max(1);
                    if limits.max_bitrate_kbps > 0 && kbps > limits.max_bitrate_kbps {
                        tracing::info!(video = %video.uuid, kbps, "a live's bitrate is over the limit");
                        break 'session Some(super::ERROR_BITRATE_EXCEEDED);
                    }
                    window_start = Instant::now();
                    window_bytes = 0;
                    // A replay counts against its owner's quota as it grows (PeerTube's).
                    if let (Some(f), Some(user)) = (ffmpeg.as_ref(), owner) && replay.is_some() {
                        let left = crate::video::upload::quota_left_of(&app.db, user, None).await.ok().flatten();
                        if left.is_some_and(|l| f.replay_bytes() as i64 > l) {
                            break 'session Some(super::ERROR_QUOTA_EXCEEDED);
                        }
                    }
                }
                if let Some(master) = ffmpeg.as_ref().and_then(|f| f.take_master()) {
                    aired = true;
                    if let Err(e) = super::went_live(app, &video, session_id, &master).await {
                        tracing::error!(video = %video.uuid, error = %e, "cannot announce a live's start");
                    }
                }
                if let Some(f) = ffmpeg.as_mut()
                    && let Some(code) = f.failed(app).await
                {
                    break 'session Some(code);
                }
            }
        }
    };
    if let Some(f) = ffmpeg.take() {
        let (failed, master) = f.finish(app, Duration::from_secs(5)).await;
        if let Some(why) = failed
            && error.is_none()
        {
            tracing::info!(video = %video.uuid, ffmpeg = why, "a live's ffmpeg ended with an error");
        }
        // A stream shorter than a segment aired as it stopped: it is published, then ended.
        if let Some(master) = master {
            aired = true;
            if let Err(e) = super::went_live(app, &video, session_id, &master).await {
                tracing::error!(video = %video.uuid, error = %e, "cannot announce a live's start");
            }
        }
    }
    (error, aired)
}

/// Passes one media message on: to ffmpeg once it runs, else kept until enough is known of the
/// stream to start it. `Err`: the session's error.
#[allow(clippy::too_many_arguments)]
async fn feed(
    app: &App,
    dir: &std::path::Path,
    (video, session_id, latency_mode): (&flotilla_db::videos::Video, i64, i64),
    replay: Option<std::path::PathBuf>,
    probe: &mut Probe,
    ffmpeg: &mut Option<Encoder>,
    kind: u8,
    ts: u32,
    data: Bytes,
) -> Result<(), i64> {
    if let Some(f) = ffmpeg.as_mut() {
        return f.send(kind, ts, data).await.map_err(|_| super::ERROR_FFMPEG);
    }
    probe.push(kind, ts, data);
    if !probe.ready() {
        return Ok(());
    }
    if app.config.live.remote_runners {
        let r = Remote::start(app, dir, &probe.source, latency_mode, replay, video, session_id).await.map_err(|e| {
            tracing::error!(dir = %dir.display(), error = %e, "cannot hand a live to remote runners");
            super::ERROR_RUNNER_JOB
        })?;
        let f = ffmpeg.insert(Encoder::Remote(r));
        for (k, ts, d) in probe.tags.drain(..) {
            let _ = f.send(k, ts, d).await;
        }
        probe.bytes = 0;
        return Ok(());
    }
    let mut out = Vec::with_capacity(probe.bytes + 15 * (probe.tags.len() + 1));
    let t = Transcoder::start(app, dir, &probe.source, latency_mode, replay).await.map_err(|e| {
        tracing::error!(dir = %dir.display(), error = %e, "cannot start a live's ffmpeg");
        super::ERROR_FFMPEG
    })?;
    out.extend_from_slice(&media::flv_header(probe.source.has_audio, probe.source.has_video));
    for (k, ts, d) in probe.tags.drain(..) {
        media::flv_tag(&mut out, k, ts, &d);
    }
    probe.bytes = 0;
    let f = ffmpeg.insert(Encoder::Local(t));
    match f {
        Encoder::Local(t) => t.write(&out).await.map_err(|_| super::ERROR_FFMPEG),
        Encoder::Remote(_) => Ok(()),
    }
}
