//! The zip side of archives, with the `zip` crate (blocking I/O: callers run these in
//! `spawn_blocking`). Writing: JSON deflated, media stored as they are (they do not compress).
//! Reading an uploaded archive is reading hostile input: entries are found by their exact name,
//! never written out by it; every read is bounded by the bytes really produced (a zip may lie
//! about its sizes); the number of entries is capped.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

/// What goes into an archive under a name.
pub enum Source {
    Bytes(Vec<u8>),
    File(PathBuf),
}

/// Writes `entries` to `dest` (created or truncated); returns its size. A source file that
/// vanished meanwhile (a video deleted during the export) is left out, as PeerTube does.
pub fn write(dest: &Path, entries: Vec<(String, Source)>) -> std::io::Result<u64> {
    let file = File::create(dest)?;
    let mut zip = ZipWriter::new(file);
    let packed = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated).large_file(false);
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored).large_file(true);
    for (name, source) in entries {
        match source {
            Source::Bytes(b) => {
                zip.start_file(name, packed)?;
                zip.write_all(&b)?;
            }
            Source::File(path) => {
                let mut f = match File::open(&path) {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        tracing::warn!(file = %path.display(), "a file left out of an export: it is gone");
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                zip.start_file(name, stored)?;
                std::io::copy(&mut f, &mut zip)?;
            }
        }
    }
    let mut file = zip.finish()?;
    file.flush()?;
    file.sync_all()?;
    Ok(file.metadata()?.len())
}

/// Why an archive cannot be read.
#[derive(Debug)]
pub enum ReadError {
    /// Not a zip, or a broken one.
    Invalid(String),
    /// An entry larger than allowed.
    TooLarge(String),
    Io(std::io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Invalid(m) | ReadError::TooLarge(m) => f.write_str(m),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// The most entries an archive may have (PeerTube's import refuses more than 10,000 files).
pub const MAX_ENTRIES: usize = 10_000;

fn open(zip: &Path) -> Result<ZipArchive<File>, ReadError> {
    let f = File::open(zip).map_err(ReadError::Io)?;
    let archive = ZipArchive::new(f).map_err(|e| ReadError::Invalid(format!("not a readable zip archive: {e}")))?;
    if archive.len() > MAX_ENTRIES {
        return Err(ReadError::Invalid(format!("the archive has {} entries, more than {MAX_ENTRIES}", archive.len())));
    }
    Ok(archive)
}

/// Checks that `zip` is a zip archive we accept (readable, not too many entries).
pub fn check(zip: &Path) -> Result<(), ReadError> {
    open(zip).map(|_| ())
}

/// Copies the entry `name` into `out`, refusing more than `max` bytes. `Ok(None)`: no such entry.
fn copy_entry(zip: &Path, name: &str, max: u64, out: &mut impl Write) -> Result<Option<u64>, ReadError> {
    let mut archive = open(zip)?;
    let entry = match archive.by_name(name) {
        Ok(e) => e,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(ReadError::Invalid(format!("cannot read {name}: {e}"))),
    };
    if entry.is_dir() {
        return Ok(None);
    }
    if entry.size() > max {
        return Err(ReadError::TooLarge(format!("{name} is {} bytes, more than the {max} allowed", entry.size())));
    }
    // The declared size is not trusted: at most max + 1 bytes are ever decompressed.
    let mut limited = entry.take(max + 1);
    let n = std::io::copy(&mut limited, out).map_err(|e| ReadError::Invalid(format!("cannot read {name}: {e}")))?;
    if n > max {
        return Err(ReadError::TooLarge(format!("{name} holds more than the {max} bytes allowed")));
    }
    Ok(Some(n))
}

/// The bytes of the entry `name` (at most `max`).
pub fn read(zip: &Path, name: &str, max: u64) -> Result<Option<Vec<u8>>, ReadError> {
    let mut buf = Vec::new();
    Ok(copy_entry(zip, name, max, &mut buf)?.map(|_| buf))
}

/// Extracts the entry `name` to `dest` (at most `max` bytes); a refused or broken entry leaves
/// no file behind.
pub fn extract(zip: &Path, name: &str, max: u64, dest: &Path) -> Result<Option<u64>, ReadError> {
    let mut f = File::create(dest).map_err(ReadError::Io)?;
    let result = copy_entry(zip, name, max, &mut f).and_then(|n| {
        f.sync_all().map_err(ReadError::Io)?;
        Ok(n)
    });
    if !matches!(result, Ok(Some(_))) {
        let _ = std::fs::remove_file(dest);
    }
    result
}

/// The entry a path of an archive's JSON file names, relative to that file's folder (PeerTube's
/// `archiveFiles`: `../files/videos/thumbnails/….jpg` from `peertube/`). `None` for an absolute
/// path, a path leaving the archive, or anything but plain names.
pub fn resolve(base_dir: &str, relative: &str) -> Option<String> {
    if relative.is_empty() || relative.len() > 1024 || relative.starts_with('/') || relative.contains(['\\', '\0']) {
        return None;
    }
    let mut parts: Vec<&str> = base_dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in relative.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p if p.contains(':') => return None,
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_paths_stay_inside_the_archive() {
        assert_eq!(resolve("peertube", "../files/videos/a.mp4").as_deref(), Some("files/videos/a.mp4"));
        assert_eq!(resolve("peertube", "./x/../y.json").as_deref(), Some("peertube/y.json"));
        assert_eq!(resolve("peertube", "../../etc/passwd"), None);
        assert_eq!(resolve("peertube", "/etc/passwd"), None);
        assert_eq!(resolve("peertube", "..\\..\\x"), None);
        assert_eq!(resolve("peertube", "C:/x"), None);
        assert_eq!(resolve("peertube", ".."), None);
        assert_eq!(resolve("peertube", ""), None);
    }

    #[test]
    fn entries_are_read_within_their_bound() {
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("a.zip");
        write(&zip, vec![("peertube/a.json".into(), Source::Bytes(vec![b'x'; 1000]))]).unwrap();
        assert_eq!(read(&zip, "peertube/a.json", 1000).unwrap().unwrap().len(), 1000);
        assert!(matches!(read(&zip, "peertube/a.json", 999), Err(ReadError::TooLarge(_))));
        assert!(read(&zip, "peertube/b.json", 1000).unwrap().is_none());
        let out = dir.path().join("out");
        assert!(extract(&zip, "peertube/a.json", 10, &out).is_err());
        assert!(!out.exists(), "a refused entry leaves no file");
        std::fs::write(dir.path().join("not.zip"), b"hello").unwrap();
        assert!(matches!(check(&dir.path().join("not.zip")), Err(ReadError::Invalid(_))));
    }
}
