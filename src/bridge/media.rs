//! Media between Matrix and MMS: what a part is (checked against its bytes), and images
//! made small enough for a carrier.

use serde_json::{Value, json};

use crate::mms::Part;

/// The Matrix msgtype, the mimetype to declare and the info for a media part. An image
/// is believed only if its bytes are one: the declared type comes from the sender.
pub(super) fn describe_media(p: &Part) -> (&'static str, String, Value) {
    let declared = p.content_type.essence();
    if declared.starts_with("image/") || declared.starts_with("application/octet-stream") {
        if let Ok(format) = image::guess_format(&p.data) {
            let mime = format.to_mime_type().to_string();
            let dims = image::ImageReader::with_format(std::io::Cursor::new(&p.data), format).into_dimensions();
            if let Ok((w, h)) = dims {
                return ("m.image", mime, json!({ "w": w, "h": h }));
            }
            return ("m.file", mime, json!({}));
        }
        if declared.starts_with("image/") {
            // WBMP and friends Matrix clients cannot show, or bytes that are no image.
            return ("m.file", declared, json!({}));
        }
    }
    let msgtype = match declared.split('/').next() {
        Some("video") => "m.video",
        Some("audio") => "m.audio",
        _ => "m.file",
    };
    let mime = if declared.contains('/') && !declared.starts_with("application/x-wsp-") {
        declared
    } else {
        "application/octet-stream".into()
    };
    (msgtype, mime, json!({}))
}

pub(super) fn extension(mime: &str) -> &'static str {
    match mime {
        "image/jpeg" => ".jpg",
        "image/png" => ".png",
        "image/gif" => ".gif",
        "image/webp" => ".webp",
        "image/bmp" => ".bmp",
        "audio/amr" => ".amr",
        "audio/mpeg" => ".mp3",
        "video/3gpp" => ".3gp",
        "video/mp4" => ".mp4",
        "text/x-vcard" | "text/vcard" => ".vcf",
        _ => "",
    }
}

/// Re-encodes an image as JPEG, scaling it down until it fits in `max_bytes`: carriers
/// refuse MMS over their limit (often 300 KB). None if the bytes are no image we can
/// decode, or if even a small thumbnail would not fit.
pub(super) fn fit_image(bytes: &[u8], max_bytes: usize) -> Option<Vec<u8>> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format().ok()?;
    // A hostile file can claim enormous dimensions: cap what decoding may allocate.
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(12_000);
    limits.max_image_height = Some(12_000);
    limits.max_alloc = Some(256 << 20);
    reader.limits(limits);
    // Re-encoding drops EXIF, so turn the picture the way the camera said first.
    let mut decoder = reader.into_decoder().ok()?;
    let orientation =
        image::ImageDecoder::orientation(&mut decoder).unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(decoder).ok()?;
    img.apply_orientation(orientation);
    let img = image::DynamicImage::ImageRgb8(img.to_rgb8());
    // More than 1280 pixels on the long side is wasted on a phone screen.
    let mut long = img.width().max(img.height()).min(1280);
    loop {
        let scaled = if long < img.width().max(img.height()) {
            img.resize(long, long, image::imageops::FilterType::Triangle)
        } else {
            img.clone()
        };
        for quality in [85u8, 70, 55, 40] {
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).encode_image(&scaled).ok()?;
            if out.len() <= max_bytes {
                return Some(out);
            }
        }
        if long <= 64 {
            return None;
        }
        long = long * 3 / 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noisy_png(w: u32, h: u32) -> Vec<u8> {
        let mut x = 12345u32;
        let img = image::RgbImage::from_fn(w, h, |_, _| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            image::Rgb([x as u8, (x >> 8) as u8, (x >> 16) as u8])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn big_images_are_scaled_to_fit_and_stay_images() {
        let png = noisy_png(1600, 1200);
        assert!(png.len() > 1_000_000);
        let jpeg = fit_image(&png, 100_000).unwrap();
        assert!(jpeg.len() <= 100_000, "{}", jpeg.len());
        let back = image::load_from_memory(&jpeg).unwrap();
        assert!(back.width() <= 1280 && back.width() * 3 == back.height() * 4, "{}x{}", back.width(), back.height());
        assert!(fit_image(b"not an image", 100_000).is_none());
        assert!(fit_image(&png, 10).is_none());
    }

    #[test]
    fn a_camera_picture_is_turned_upright_before_scaling() {
        use image::ImageEncoder;
        // 400x100, with EXIF orientation 6 ("rotate 90° clockwise to view").
        let wide = image::RgbImage::from_fn(400, 100, |x, _| image::Rgb([(x % 256) as u8, 0, 0]));
        let exif = [
            b'I', b'I', 0x2A, 0, 8, 0, 0, 0, // TIFF header, IFD0 at 8
            1, 0, // one entry
            0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, // Orientation = 6
            0, 0, 0, 0, // no next IFD
        ];
        let mut jpeg = Vec::new();
        let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95);
        enc.set_exif_metadata(exif.to_vec()).unwrap();
        enc.write_image(wide.as_raw(), 400, 100, image::ExtendedColorType::Rgb8).unwrap();
        let fitted = fit_image(&jpeg, jpeg.len() - 1).expect("fits");
        let back = image::load_from_memory(&fitted).unwrap();
        assert_eq!((back.width(), back.height()), (100, 400), "turned upright");
    }

    #[test]
    fn media_kinds_are_checked_against_the_bytes() {
        let png = noisy_png(3, 2);
        let part = |ct: &str, data: Vec<u8>| Part::new(crate::mms::ContentType::new(ct), data);
        let (kind, mime, info) = describe_media(&part("image/jpeg", png.clone()));
        assert_eq!(
            (kind, mime.as_str(), info["w"].as_u64(), info["h"].as_u64()),
            ("m.image", "image/png", Some(3), Some(2))
        );
        assert_eq!(describe_media(&part("image/jpeg", b"<html>".to_vec())).0, "m.file");
        assert_eq!(describe_media(&part("audio/amr", vec![1, 2])).0, "m.audio");
        assert_eq!(describe_media(&part("video/3gpp", vec![1, 2])).0, "m.video");
        assert_eq!(describe_media(&part("application/x-wsp-0x99", vec![1])).1, "application/octet-stream");
    }
}
