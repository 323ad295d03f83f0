//! The external programs we run: finding them and reading their versions (for `flotilla doctor`).

use std::time::Duration;

use tokio::process::Command;

use crate::Error;

/// Runs `program -version` and returns its first line, e.g. `ffmpeg version 5.1.6-0+deb12u1 …`.
pub async fn version(program: &str) -> Result<String, Error> {
    let mut cmd = Command::new(program);
    cmd.arg("-version").kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(10), cmd.output())
        .await
        .map_err(|_| Error::Tool(format!("{program} -version did not answer within 10 s")))?
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Error::Tool(format!("{program} is not installed (on Debian: apt-get install ffmpeg)"))
            }
            _ => Error::Tool(format!("cannot run {program}: {e}")),
        })?;
    if !out.status.success() {
        return Err(Error::Tool(format!("{program} -version exited with {}", out.status)));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.lines().next().unwrap_or_default().trim().to_string())
}

/// The major version in a `-version` line (`ffmpeg version 5.1.6-0+deb12u1` → 5; `n6.0` → 6).
pub fn major_version(line: &str) -> Option<u32> {
    let v = line.split_whitespace().nth(2)?;
    let v = v.strip_prefix('n').unwrap_or(v);
    v.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn major_versions_are_read_from_version_lines() {
        assert_eq!(super::major_version("ffmpeg version 5.1.6-0+deb12u1 Copyright (c) 2000-2024"), Some(5));
        assert_eq!(super::major_version("ffprobe version n6.1.1 Copyright"), Some(6));
        assert_eq!(super::major_version("ffmpeg version N-112233-gabc"), None);
    }
}
