//! Avatars and banners: decoded with size limits, cropped to PeerTube's standard sizes and
//! re-encoded as JPEG. Re-encoding is what strips metadata (EXIF, GPS) and any payload hidden in
//! the original file; only the pixels survive. SVG is never accepted (CVE-2021-3780).

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, Limits, imageops::FilterType};

use crate::Error;

/// The square sizes PeerTube keeps for avatars (`ACTOR_IMAGES_SIZE.AVATARS`).
pub const AVATAR_SIZES: &[(u32, u32)] = &[(48, 48), (120, 120), (600, 600), (1500, 1500)];
/// Banner sizes (`ACTOR_IMAGES_SIZE.BANNERS`).
pub const BANNER_SIZES: &[(u32, u32)] = &[(600, 100), (1920, 317)];

/// Largest image dimension accepted on input; beyond it decoding is refused before allocation.
const MAX_DIMENSION: u32 = 10_000;

/// One re-encoded size, ready to write.
pub struct Encoded {
    pub width: u32,
    pub height: u32,
    pub jpeg: Vec<u8>,
}

/// Decodes `bytes` (PNG, JPEG, GIF or WebP, detected from the content, not from a name the user
/// chose) and returns one JPEG per requested size, each cropped to fill it. CPU-bound: run it on a
/// blocking thread.
pub fn resize_all(bytes: &[u8], sizes: &[(u32, u32)]) -> Result<Vec<Encoded>, Error> {
    let img = decode(bytes)?;
    sizes
        .iter()
        .map(|&(w, h)| {
            let out = img.resize_to_fill(w, h, FilterType::Lanczos3);
            let rgb = flatten(out);
            let mut jpeg = Vec::new();
            let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 88);
            rgb.write_with_encoder(encoder).map_err(|e| Error::Tool(format!("cannot encode JPEG: {e}")))?;
            Ok(Encoded { width: w, height: h, jpeg })
        })
        .collect()
}

fn decode(bytes: &[u8]) -> Result<DynamicImage, Error> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::Rejected(format!("cannot read image: {e}")))?;
    match reader.format() {
        Some(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Gif | ImageFormat::WebP) => {}
        _ => return Err(Error::Rejected("the file is not a PNG, JPEG, GIF or WebP image".into())),
    }
    let mut reader = reader;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    reader.decode().map_err(|e| Error::Rejected(format!("the image cannot be decoded: {e}")))
}

/// The still image of an audio-only video: a quiet gradient, as PNG bytes.
pub fn audio_still() -> Vec<u8> {
    let img = image::RgbImage::from_fn(850, 480, |x, y| {
        let t = (x + y) as f32 / (850 + 480) as f32;
        image::Rgb([(30.0 + 40.0 * t) as u8, (40.0 + 30.0 * t) as u8, (70.0 + 60.0 * t) as u8])
    });
    let mut out = Vec::new();
    // Encoding a fixed in-memory RGB image into a Vec cannot fail.
    let _ = DynamicImage::ImageRgb8(img).write_to(&mut Cursor::new(&mut out), ImageFormat::Png);
    out
}

/// JPEG has no alpha: transparent pixels are composed over white rather than turning black.
fn flatten(img: DynamicImage) -> DynamicImage {
    if !img.color().has_alpha() {
        return DynamicImage::ImageRgb8(img.to_rgb8());
    }
    let rgba = img.to_rgba8();
    let mut rgb = image::RgbImage::new(rgba.width(), rgba.height());
    for (src, dst) in rgba.pixels().zip(rgb.pixels_mut()) {
        let a = u16::from(src[3]);
        for c in 0..3 {
            dst[c] = ((u16::from(src[c]) * a + 255 * (255 - a)) / 255) as u8;
        }
    }
    DynamicImage::ImageRgb8(rgb)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbaImage::from_fn(w, h, |x, y| image::Rgba([(x % 256) as u8, (y % 256) as u8, 90, 128]));
        let mut out = Vec::new();
        DynamicImage::ImageRgba8(img).write_to(&mut Cursor::new(&mut out), ImageFormat::Png).unwrap();
        out
    }

    #[test]
    fn a_png_becomes_one_jpeg_per_size() {
        let out = resize_all(&png(300, 200), BANNER_SIZES).unwrap();
        assert_eq!(out.len(), 2);
        for (e, &(w, h)) in out.iter().zip(BANNER_SIZES) {
            assert_eq!(&e.jpeg[..3], &[0xFF, 0xD8, 0xFF]);
            let back = image::load_from_memory(&e.jpeg).unwrap();
            assert_eq!((back.width(), back.height()), (w, h));
        }
    }

    #[test]
    fn text_and_svg_are_refused() {
        assert!(matches!(resize_all(b"hello, I am not an image", AVATAR_SIZES), Err(Error::Rejected(_))));
        let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
        assert!(matches!(resize_all(svg, AVATAR_SIZES), Err(Error::Rejected(_))));
    }

    #[test]
    fn a_truncated_png_is_refused() {
        let mut bytes = png(64, 64);
        bytes.truncate(bytes.len() / 2);
        assert!(matches!(resize_all(&bytes, AVATAR_SIZES), Err(Error::Rejected(_))));
    }
}
