//! Page intake shared by every OCR engine: decode, check limits, orient and
//! normalise an uploaded image to upright 8-bit RGB.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use crate::error::{Error, ErrorKind, Result};
use crate::ocr::Page;

/// Size limits applied to every uploaded page before and while it is decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeLimits {
    /// Maximum size of one encoded page, in bytes.
    pub max_bytes: usize,
    /// Maximum width × height of one decoded page, in pixels.
    pub max_pixels: u64,
    /// Maximum memory to decode one page into, in bytes. With `max_pixels`
    /// it stops a small file that declares a huge image.
    pub max_decoder_alloc: u64,
    /// Longest page side after intake, in pixels; larger pages are downscaled.
    /// ocrs detects text on an 800×600 copy but recognises lines on this
    /// image. `intake-eval` measured CER 0.03-0.05 on a 300-dpi two-column
    /// page from 1200 to 3300 px, and the default keeps small print legible.
    pub max_side: u32,
}

impl Default for IntakeLimits {
    fn default() -> Self {
        Self {
            max_bytes: 32 * 1024 * 1024,
            max_pixels: 100_000_000,
            max_decoder_alloc: 512 * 1024 * 1024,
            max_side: 2400,
        }
    }
}

/// Decodes every page of a task; the first page that fails stops the intake.
pub fn decode_pages(pages: &[Vec<u8>], limits: &IntakeLimits) -> Result<Vec<Page>> {
    pages
        .iter()
        .enumerate()
        .map(|(index, bytes)| decode_page(bytes, index, limits))
        .collect()
}

/// Decodes one encoded page into an upright 8-bit RGB [`Page`].
///
/// Every rejection is [`ErrorKind::InvalidImage`] with a message that starts
/// with `page {index}:` and ends with what to send instead.
pub fn decode_page(bytes: &[u8], index: usize, limits: &IntakeLimits) -> Result<Page> {
    let invalid =
        |reason: String| Error::new(ErrorKind::InvalidImage, format!("page {index}: {reason}"));

    if bytes.is_empty() {
        return Err(invalid(
            "the image is empty (0 bytes); send a JPEG or PNG image".into(),
        ));
    }
    if bytes.len() > limits.max_bytes {
        return Err(invalid(format!(
            "{} bytes exceeds the limit of {} bytes; send a smaller or more compressed image",
            bytes.len(),
            limits.max_bytes
        )));
    }

    let format = sniff_format(bytes).map_err(invalid)?;
    check_container(bytes, format, limits).map_err(invalid)?;

    // Decoders for untrusted input have panicked on malformed files before,
    // so a panic is turned into a rejection of this page only.
    let decoded = catch_unwind(AssertUnwindSafe(|| decode_oriented(bytes, format, limits)))
        .map_err(|_| {
            invalid(format!(
                "the {} decoder failed on malformed data",
                format_name(format)
            ))
        })?
        .map_err(invalid)?;

    let image = normalise(downscale(decoded, limits.max_side));
    Ok(Page { index, image })
}

/// Identifies the format from magic bytes, naming common unsupported formats.
fn sniff_format(bytes: &[u8]) -> std::result::Result<ImageFormat, String> {
    if bytes.starts_with(b"%PDF") {
        return Err("unsupported format PDF; convert each page to JPEG or PNG".into());
    }
    if let Some(brand) = iso_media_brand(bytes) {
        let name = match brand {
            b"avif" | b"avis" => "AVIF",
            _ => "HEIC/HEIF",
        };
        return Err(format!(
            "unsupported format {name}; convert it to JPEG or PNG"
        ));
    }

    let supported = [
        ImageFormat::Jpeg,
        ImageFormat::Png,
        ImageFormat::WebP,
        ImageFormat::Tiff,
        ImageFormat::Bmp,
        ImageFormat::Gif,
    ];
    match image::guess_format(bytes) {
        Ok(format) if supported.contains(&format) => Ok(format),
        Ok(format) => Err(format!(
            "unsupported format {}; convert it to JPEG or PNG",
            format_name(format)
        )),
        Err(_) => Err(
            "unrecognised image data (not JPEG, PNG, WebP, TIFF, BMP or GIF); send a JPEG or PNG image"
                .into(),
        ),
    }
}

/// Rejects what the decoders let pass. zune-jpeg fills the missing part of a
/// JPEG cut short with grey. The GIF decoder fails on a bomb before it
/// reports the size. The TIFF decoder reads only the first of several pages.
fn check_container(
    bytes: &[u8],
    format: ImageFormat,
    limits: &IntakeLimits,
) -> std::result::Result<(), String> {
    match format {
        ImageFormat::Jpeg if !jpeg_has_end_of_image(bytes) => Err(
            "truncated JPEG; the file ends before its end-of-image marker, send the complete image"
                .into(),
        ),
        ImageFormat::Gif => {
            let (width, height) = gif_max_dimensions(bytes)
                .ok_or_else(|| "truncated GIF; the file ends inside its headers".to_string())?;
            check_pixels(width, height, limits)
        }
        // NOTE: a multi-page TIFF is rejected rather than split, because each
        // `to_process` entry of a task is one page.
        ImageFormat::Tiff => match count_tiff_pages(bytes) {
            Some(count) if count > 1 => Err(format!(
                "the TIFF holds {count} pages; send each page as its own image"
            )),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// Whether an end-of-image marker follows the main image's start of scan.
/// The walk skips whole marker segments, so the markers of an EXIF thumbnail
/// inside APP1 do not count, and entropy-coded data cannot contain the marker.
fn jpeg_has_end_of_image(bytes: &[u8]) -> bool {
    const START_OF_SCAN: u8 = 0xDA;
    let mut at = 2;
    loop {
        let marker = match bytes.get(at..at + 2) {
            Some(&[0xFF, marker]) => marker,
            _ => return false,
        };
        match marker {
            // Fill byte before a marker.
            0xFF => at += 1,
            START_OF_SCAN => break,
            // Markers without a length field.
            0x01 | 0xD0..=0xD7 => at += 2,
            _ => {
                let Some(&[high, low]) = bytes.get(at + 2..at + 4) else {
                    return false;
                };
                at += 2 + usize::from(u16::from_be_bytes([high, low]));
            }
        }
    }
    bytes[at..].windows(2).any(|pair| pair == [0xFF, 0xD9])
}

/// Returns the size a GIF needs to be drawn: its canvas, grown to hold the
/// first frame at its offset, found by walking the blocks up to the first
/// image descriptor.
fn gif_max_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let read_u16 = |at: usize| -> Option<u32> {
        let &[low, high] = bytes.get(at..at + 2)? else {
            return None;
        };
        Some(u32::from(u16::from_le_bytes([low, high])))
    };
    let (canvas_width, canvas_height) = (read_u16(6)?, read_u16(8)?);

    const HEADER_LEN: usize = 13;
    let flags = *bytes.get(10)?;
    let global_table_len = if flags & 0x80 != 0 {
        3 << ((flags & 0x07) + 1)
    } else {
        0
    };
    let mut at = HEADER_LEN + global_table_len;
    loop {
        match *bytes.get(at)? {
            // Extension: introducer, label, then sub-blocks up to a zero length.
            0x21 => {
                at += 2;
                loop {
                    let len = usize::from(*bytes.get(at)?);
                    at += 1 + len;
                    if len == 0 {
                        break;
                    }
                }
            }
            0x2C => {
                let right = read_u16(at + 1)? + read_u16(at + 5)?;
                let bottom = read_u16(at + 3)? + read_u16(at + 7)?;
                return Some((canvas_width.max(right), canvas_height.max(bottom)));
            }
            // Trailer or an unknown block: the decoder reports what is wrong.
            _ => return Some((canvas_width, canvas_height)),
        }
    }
}

fn check_pixels(width: u32, height: u32, limits: &IntakeLimits) -> std::result::Result<(), String> {
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(format!(
            "{width}x{height} pixels exceeds the limit of {} megapixels; send a smaller image",
            limits.max_pixels / 1_000_000
        ));
    }
    Ok(())
}

/// Returns the major brand of an ISO base media file (HEIC, HEIF, AVIF), whose
/// first box is `ftyp` at byte 4.
fn iso_media_brand(bytes: &[u8]) -> Option<&[u8; 4]> {
    if bytes.get(4..8)? != b"ftyp" {
        return None;
    }
    let brand: &[u8; 4] = bytes.get(8..12)?.try_into().ok()?;
    const IMAGE_BRANDS: [&[u8; 4]; 10] = [
        b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis",
    ];
    IMAGE_BRANDS.contains(&brand).then_some(brand)
}

/// Counts the image directories of a classic TIFF. Returns `None` when the
/// header or the chain cannot be read, and the decoder then reports the damage.
fn count_tiff_pages(bytes: &[u8]) -> Option<usize> {
    let little_endian = match bytes.get(0..4)? {
        b"II*\0" => true,
        b"MM\0*" => false,
        _ => return None,
    };
    let read_u16 = |at: usize| -> Option<usize> {
        let raw: [u8; 2] = bytes.get(at..at + 2)?.try_into().ok()?;
        Some(usize::from(if little_endian {
            u16::from_le_bytes(raw)
        } else {
            u16::from_be_bytes(raw)
        }))
    };
    let read_u32 = |at: usize| -> Option<usize> {
        let raw: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        let value = if little_endian {
            u32::from_le_bytes(raw)
        } else {
            u32::from_be_bytes(raw)
        };
        usize::try_from(value).ok()
    };

    // Bounded so that a directory chain with a cycle ends.
    const MAX_DIRECTORIES: usize = 10_000;
    let mut offset = read_u32(4)?;
    let mut count = 0;
    while offset != 0 && count < MAX_DIRECTORIES {
        count += 1;
        let entries = read_u16(offset)?;
        offset = read_u32(offset + 2 + entries * 12)?;
    }
    Some(count)
}

/// Decodes with limits and applies the EXIF orientation.
fn decode_oriented(
    bytes: &[u8],
    format: ImageFormat,
    limits: &IntakeLimits,
) -> std::result::Result<DynamicImage, String> {
    let mut decoder_limits = Limits::default();
    decoder_limits.max_alloc = Some(limits.max_decoder_alloc);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(decoder_limits);

    let name = format_name(format);
    let mut decoder = reader
        .into_decoder()
        .map_err(|error| describe_decode_error(name, &error))?;

    let (width, height) = decoder.dimensions();
    check_pixels(width, height, limits)?;
    // Decoders check `max_alloc` only for their own buffers, not for the
    // image buffer that `from_decoder` allocates, so that is checked here.
    if decoder.total_bytes() > limits.max_decoder_alloc {
        return Err(format!(
            "the {name} image needs {} bytes to decode, more memory than the limit of {} bytes; send a smaller image",
            decoder.total_bytes(),
            limits.max_decoder_alloc
        ));
    }
    if width == 0 || height == 0 {
        return Err(format!("the {name} image has no pixels ({width}x{height})"));
    }

    // A missing or unreadable EXIF block means the pixels are already upright.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image =
        DynamicImage::from_decoder(decoder).map_err(|error| describe_decode_error(name, &error))?;
    image.apply_orientation(orientation);
    Ok(image)
}

fn describe_decode_error(format: &str, error: &image::ImageError) -> String {
    use image::ImageError;
    match error {
        ImageError::Limits(_) => format!(
            "the {format} image needs more memory to decode than the limit allows; send a smaller image"
        ),
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            format!("truncated {format}; the file ends early, send the complete image")
        }
        ImageError::Unsupported(unsupported) => {
            format!("unsupported {format} variant ({unsupported}); convert it to JPEG or PNG")
        }
        other => format!("invalid {format} data ({other}); send the complete image as JPEG or PNG"),
    }
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Png => "PNG",
        ImageFormat::WebP => "WebP",
        ImageFormat::Tiff => "TIFF",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Gif => "GIF",
        ImageFormat::Avif => "AVIF",
        ImageFormat::Ico => "ICO",
        ImageFormat::Pnm => "PNM",
        ImageFormat::Tga => "TGA",
        ImageFormat::Dds => "DDS",
        ImageFormat::Hdr => "HDR",
        ImageFormat::OpenExr => "OpenEXR",
        ImageFormat::Farbfeld => "Farbfeld",
        ImageFormat::Qoi => "QOI",
        _ => "image",
    }
}

/// Shrinks the image so that its longer side is at most `max_side` pixels.
fn downscale(image: DynamicImage, max_side: u32) -> DynamicImage {
    if image.width().max(image.height()) <= max_side {
        return image;
    }
    // `resize` keeps the aspect ratio within the max_side square.
    image.resize(max_side, max_side, FilterType::Triangle)
}

/// Converts any colour type to 8-bit RGB, stretching under-filled 16-bit
/// samples and compositing transparency onto a contrasting background.
fn normalise(image: DynamicImage) -> image::RgbImage {
    if !image.color().has_alpha() && !is_high_depth(&image) {
        return image.to_rgb8();
    }

    let gain = sample_gain(&image);
    let rgba = image.to_rgba32f();
    let background = contrasting_background(&rgba, gain);

    let mut out = image::RgbImage::new(rgba.width(), rgba.height());
    for (source, target) in rgba.pixels().zip(out.pixels_mut()) {
        let [red, green, blue, alpha] = source.0;
        let alpha = alpha.clamp(0.0, 1.0);
        let blend = |value: f32| {
            let value = (value * gain).clamp(0.0, 1.0) * alpha + background * (1.0 - alpha);
            (value * 255.0).round() as u8
        };
        target.0 = [blend(red), blend(green), blend(blue)];
    }
    out
}

fn is_high_depth(image: &DynamicImage) -> bool {
    image.color().bytes_per_pixel() / image.color().channel_count() > 1
}

/// Returns the factor that maps the brightest colour sample of a 16-bit
/// image to full scale, because scanners store 10- or 12-bit data in 16 bits
/// and a plain conversion to 8 bits turns such pages almost black.
fn sample_gain(image: &DynamicImage) -> f32 {
    let max_sample = match image {
        DynamicImage::ImageLuma16(pixels) => pixels.as_raw().iter().copied().max(),
        DynamicImage::ImageLumaA16(pixels) => pixels.pixels().map(|pixel| pixel.0[0]).max(),
        DynamicImage::ImageRgb16(pixels) => pixels.as_raw().iter().copied().max(),
        DynamicImage::ImageRgba16(pixels) => pixels
            .pixels()
            .filter_map(|pixel| pixel.0[..3].iter().copied().max())
            .max(),
        _ => None,
    };
    match max_sample {
        Some(max) if max > 0 => 65535.0 / f32::from(max),
        _ => 1.0,
    }
}

/// Chooses white, unless the visible content is mostly light (such as white
/// text on a transparent background), in which case black keeps it readable.
fn contrasting_background(rgba: &image::Rgba32FImage, gain: f32) -> f32 {
    let mut weighted_luma = 0.0f64;
    let mut total_alpha = 0.0f64;
    let mut transparent = 0u64;
    for pixel in rgba.pixels() {
        let [red, green, blue, alpha] = pixel.0;
        let alpha = f64::from(alpha.clamp(0.0, 1.0));
        let luma = f64::from((0.299 * red + 0.587 * green + 0.114 * blue) * gain).clamp(0.0, 1.0);
        weighted_luma += luma * alpha;
        total_alpha += alpha;
        if alpha < 0.5 {
            transparent += 1;
        }
    }

    let pixel_count = u64::from(rgba.width()) * u64::from(rgba.height());
    let mostly_opaque = transparent * 10 < pixel_count;
    if mostly_opaque || total_alpha == 0.0 {
        return 1.0;
    }
    if weighted_luma / total_alpha > 0.5 {
        0.0
    } else {
        1.0
    }
}
