//! Media processing with no database: still images (avatars, banners) decoded and re-encoded in
//! process, and the `ffmpeg`/`ffprobe` programs run as child processes. Depends on no other
//! flotilla crate.

pub mod hls;
pub mod image;
pub mod live;
pub mod mp4;
pub mod p2p;
pub mod probe;
pub mod storyboard;
pub mod subtitles;
pub mod tools;
pub mod torrent;

/// What went wrong processing media, split by whose fault it is.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is not something we accept (not an image, too large, corrupt).
    #[error("{0}")]
    Rejected(String),
    /// A tool is missing or failed for reasons of its own.
    #[error("{0}")]
    Tool(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
