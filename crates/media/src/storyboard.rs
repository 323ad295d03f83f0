//! Storyboards: one JPEG sprite sheet of small frames, for previews when hovering the progress
//! bar. PeerTube 6.3's geometry (`STORYBOARD`: sprites at most 192 px on their longer side, at
//! most 11×11 of them, one every `ceil(duration / min(duration, 121))` seconds, none under 3 s), so
//! that its player reads ours and ours reads its.

/// Longer side of a sprite.
pub const SPRITE_MAX_SIZE: u32 = 192;
/// Sprites per row and per column, at most.
pub const MAX_EDGE: u32 = 11;

#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub sprite_width: u32,
    pub sprite_height: u32,
    /// Seconds of video per sprite.
    pub sprite_duration: u32,
    pub columns: u32,
    pub rows: u32,
}

impl Plan {
    pub fn total_width(&self) -> u32 {
        self.sprite_width * self.columns
    }
    pub fn total_height(&self) -> u32 {
        self.sprite_height * self.rows
    }
}

/// The grid for `total` sprites: the first `rows × columns` with `rows ≤ columns ≤ MAX_EDGE`.
fn grid(total: u32) -> Option<(u32, u32)> {
    (1..=MAX_EDGE).find_map(|rows| (rows..=MAX_EDGE).find(|cols| rows * cols == total).map(|cols| (cols, rows)))
}

/// The storyboard of a video of `duration` seconds whose picture is `width`×`height`; `None` for
/// a video too short (or without a picture).
pub fn plan(duration: f64, width: u32, height: u32) -> Option<Plan> {
    if duration < 3.0 || width == 0 || height == 0 {
        return None;
    }
    let max_sprites = duration.ceil().min(f64::from(MAX_EDGE * MAX_EDGE));
    let sprite_duration = (duration / max_sprites).ceil().max(1.0) as u32;
    let mut total = (duration / f64::from(sprite_duration)).ceil() as u32;
    if total > MAX_EDGE {
        total -= total % MAX_EDGE;
    }
    let (columns, rows) = grid(total)?;
    let ratio = f64::from(width) / f64::from(height);
    let (sprite_width, sprite_height) = if height > width {
        ((f64::from(SPRITE_MAX_SIZE) * ratio).round().max(1.0) as u32, SPRITE_MAX_SIZE)
    } else {
        (SPRITE_MAX_SIZE, (f64::from(SPRITE_MAX_SIZE) / ratio).round().max(1.0) as u32)
    };
    Some(Plan { sprite_width, sprite_height, sprite_duration, columns, rows })
}

/// The ffmpeg arguments that draw the sheet from one of our renditions (`input`, a fragmented
/// MP4 we wrote) into `out` (a JPEG): a frame every `sprite_duration` seconds, scaled, tiled.
pub fn ffmpeg_args(input: &str, p: &Plan, out: &str) -> Vec<String> {
    let filter = format!(
        "fps=1/{},scale={}:{},tile={}x{}",
        p.sprite_duration, p.sprite_width, p.sprite_height, p.columns, p.rows
    );
    [
        "-hide_banner",
        "-nostdin",
        "-y",
        "-loglevel",
        "error",
        "-threads",
        "1",
        "-f",
        "mov",
        "-protocol_whitelist",
        "file",
        "-i",
        input,
        "-map",
        "0:v:0",
        "-vf",
        &filter,
        "-frames:v",
        "1",
        "-q:v",
        "4",
        "-progress",
        "pipe:1",
        "-nostats",
        out,
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_geometry_is_peertubes() {
        // The sample of PeerTube 6.3 (ap-video.json): a 6 s 16:9 clip, six 192×108 sprites of 1 s.
        let p = plan(6.0, 1280, 720).unwrap();
        assert_eq!(p, Plan { sprite_width: 192, sprite_height: 108, sprite_duration: 1, columns: 6, rows: 1 });
        assert_eq!((p.total_width(), p.total_height()), (1152, 108));
        // Ten minutes: five seconds a sprite (121 at most), 120 of them cut to a multiple of 11.
        let p = plan(600.0, 1920, 1080).unwrap();
        assert_eq!((p.sprite_duration, p.columns, p.rows), (5, 11, 10));
        // 30 s: 30 sprites of 1 s, cut to a multiple of 11 (22), 11×2.
        let p = plan(30.0, 640, 360).unwrap();
        assert_eq!((p.sprite_duration, p.columns, p.rows), (1, 11, 2));
        // Portrait: 192 high.
        let p = plan(10.0, 720, 1280).unwrap();
        assert_eq!((p.sprite_width, p.sprite_height), (108, 192));
        assert_eq!(plan(2.5, 1280, 720), None);
        assert_eq!(plan(10.0, 0, 0), None);
    }
}
