//! Page intake: every rejection names the page and the reason, and every
//! accepted page comes out upright 8-bit RGB within the size limits.
#![allow(clippy::unwrap_used)]

use std::io::Cursor;
use std::path::PathBuf;

use docsnap_core::ErrorKind;
use docsnap_core::ocr::{IntakeLimits, Page, decode_page, decode_pages};
use image::{DynamicImage, ImageFormat, Luma, Rgb, RgbImage, Rgba, RgbaImage};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ocr")
        .join(name);
    std::fs::read(path).unwrap()
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).unwrap();
    bytes.into_inner()
}

fn white_page(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_pixel(width, height, Rgb([255, 255, 255])))
}

fn decode(bytes: &[u8]) -> Page {
    decode_page(bytes, 0, &IntakeLimits::default()).unwrap()
}

/// Decodes expecting a rejection and returns its message.
fn rejection(bytes: &[u8], index: usize, limits: &IntakeLimits) -> String {
    let Err(error) = decode_page(bytes, index, limits) else {
        panic!("page {index} was accepted");
    };
    assert_eq!(error.kind(), ErrorKind::InvalidImage, "{error}");
    let message = error.message().to_string();
    assert!(message.starts_with(&format!("page {index}: ")), "{message}");
    message
}

fn luma(pixel: &Rgb<u8>) -> u32 {
    (u32::from(pixel.0[0]) * 299 + u32::from(pixel.0[1]) * 587 + u32::from(pixel.0[2]) * 114) / 1000
}

#[test]
fn empty_bytes_rejected() {
    let message = rejection(&[], 0, &IntakeLimits::default());
    assert!(message.contains("empty (0 bytes)"), "{message}");
}

#[test]
fn oversized_file_rejected() {
    let limits = IntakeLimits {
        max_bytes: 100,
        ..IntakeLimits::default()
    };
    let bytes = encode(&white_page(64, 64), ImageFormat::Bmp);
    let message = rejection(&bytes, 3, &limits);
    assert!(
        message.contains("exceeds the limit of 100 bytes"),
        "{message}"
    );
}

#[test]
fn pdf_rejected_as_unsupported() {
    let message = rejection(b"%PDF-1.7\n%%EOF\n", 2, &IntakeLimits::default());
    assert!(message.contains("unsupported format PDF"), "{message}");
}

#[test]
fn heic_rejected_as_unsupported() {
    let message = rejection(
        &fixture("external/heic_small.heic"),
        1,
        &IntakeLimits::default(),
    );
    assert!(
        message.contains("unsupported format HEIC/HEIF"),
        "{message}"
    );
    assert!(message.contains("convert it to JPEG or PNG"), "{message}");
}

#[test]
fn unknown_bytes_rejected() {
    let message = rejection(b"hello, this is not an image", 0, &IntakeLimits::default());
    assert!(message.contains("unrecognised image data"), "{message}");
}

#[test]
fn truncated_jpeg_rejected() {
    let bytes = encode(&white_page(300, 200), ImageFormat::Jpeg);
    let message = rejection(&bytes[..bytes.len() / 2], 0, &IntakeLimits::default());
    assert!(message.contains("truncated JPEG"), "{message}");
}

#[test]
fn truncated_png_rejected() {
    let noise = RgbImage::from_fn(300, 200, |x, y| {
        Rgb([
            (x * 7 % 256) as u8,
            (y * 13 % 256) as u8,
            ((x ^ y) % 256) as u8,
        ])
    });
    let bytes = encode(&DynamicImage::ImageRgb8(noise), ImageFormat::Png);
    let message = rejection(&bytes[..bytes.len() / 2], 0, &IntakeLimits::default());
    assert!(message.contains("PNG"), "{message}");
}

#[test]
fn too_many_pixels_rejected() {
    let limits = IntakeLimits {
        max_pixels: 10_000,
        ..IntakeLimits::default()
    };
    let bytes = encode(&white_page(200, 100), ImageFormat::Png);
    let message = rejection(&bytes, 1, &limits);
    assert!(
        message.contains("200x100 pixels exceeds the limit"),
        "{message}"
    );
}

#[test]
fn gif_bomb_rejected_before_decoding() {
    // A 32x32 canvas whose only frame declares 65535x65535 pixels.
    let mut gif = b"GIF89a\x20\x00\x20\x00\x00\x00\x00".to_vec();
    gif.extend_from_slice(&[
        0x2C, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3B,
    ]);
    let message = rejection(&gif, 0, &IntakeLimits::default());
    assert!(
        message.contains("65535x65535 pixels exceeds the limit of 100 megapixels"),
        "{message}"
    );
}

#[test]
fn decoder_allocation_limit_applies() {
    let limits = IntakeLimits {
        max_decoder_alloc: 1024,
        ..IntakeLimits::default()
    };
    let bytes = encode(&white_page(100, 100), ImageFormat::Png);
    let message = rejection(&bytes, 0, &limits);
    assert!(message.contains("more memory"), "{message}");
}

#[test]
fn multi_page_tiff_rejected() {
    let single = encode(&white_page(20, 10), ImageFormat::Tiff);
    let message = rejection(&append_tiff_page(&single), 0, &IntakeLimits::default());
    assert!(message.contains("the TIFF holds 2 pages"), "{message}");
}

/// Appends a copy of the first image directory of a little-endian TIFF and
/// links it as the second page; its strips point at the first page's data.
fn append_tiff_page(tiff: &[u8]) -> Vec<u8> {
    assert_eq!(&tiff[..4], b"II*\0");
    let first = u32::from_le_bytes(tiff[4..8].try_into().unwrap()) as usize;
    let entries = u16::from_le_bytes(tiff[first..first + 2].try_into().unwrap()) as usize;
    let directory_len = 2 + entries * 12 + 4;

    let mut out = tiff.to_vec();
    if out.len() % 2 == 1 {
        out.push(0);
    }
    let second = out.len();
    out.extend_from_slice(&tiff[first..first + directory_len]);
    let next_pointer = first + 2 + entries * 12;
    out[next_pointer..next_pointer + 4].copy_from_slice(&(second as u32).to_le_bytes());
    out
}

#[test]
fn decode_pages_reports_failing_index() {
    let good = encode(&white_page(10, 10), ImageFormat::Png);
    let error =
        decode_pages(&[good.clone(), good, Vec::new()], &IntakeLimits::default()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidImage);
    assert!(
        error.message().starts_with("page 2: "),
        "{}",
        error.message()
    );
}

#[test]
fn decode_pages_keeps_order() {
    let pages = vec![
        encode(&white_page(10, 20), ImageFormat::Png),
        encode(&white_page(30, 40), ImageFormat::Jpeg),
    ];
    let decoded = decode_pages(&pages, &IntakeLimits::default()).unwrap();
    assert_eq!(
        decoded.iter().map(|page| page.index).collect::<Vec<_>>(),
        vec![0, 1]
    );
    assert_eq!(decoded[1].image.dimensions(), (30, 40));
}

#[test]
fn every_supported_format_decodes() {
    let image = white_page(40, 30);
    for format in [
        ImageFormat::Jpeg,
        ImageFormat::Png,
        ImageFormat::WebP,
        ImageFormat::Tiff,
        ImageFormat::Bmp,
        ImageFormat::Gif,
    ] {
        let page = decode(&encode(&image, format));
        assert_eq!(page.image.dimensions(), (40, 30), "{format:?}");
        assert!(luma(page.image.get_pixel(20, 15)) > 240, "{format:?}");
    }
}

#[test]
fn exif_orientation_applied() {
    // Stored 500x1240 with orientation 6: upright it is 1240 wide.
    let page = decode(&fixture("rotated_exif6.jpg"));
    assert_eq!(page.image.dimensions(), (1240, 500));
}

#[test]
fn large_page_downscaled_to_max_side() {
    let page = decode(&encode(&white_page(3000, 1000), ImageFormat::Png));
    assert_eq!(page.image.dimensions(), (2400, 800));

    let limits = IntakeLimits {
        max_side: 500,
        ..IntakeLimits::default()
    };
    let page = decode_page(
        &encode(&white_page(400, 1000), ImageFormat::Png),
        0,
        &limits,
    )
    .unwrap();
    assert_eq!(page.image.dimensions(), (200, 500));
}

#[test]
fn twelve_bit_samples_stretched() {
    // 12-bit data stored in 16 bits: a plain conversion would give 0..15.
    let gray = image::ImageBuffer::from_fn(64, 16, |x, _| Luma([(x * 4095 / 63) as u16]));
    let page = decode(&encode(&DynamicImage::ImageLuma16(gray), ImageFormat::Png));
    assert_eq!(luma(page.image.get_pixel(63, 0)), 255);
    assert_eq!(luma(page.image.get_pixel(0, 0)), 0);
    let middle = luma(page.image.get_pixel(32, 0));
    assert!((120..=140).contains(&middle), "middle grey is {middle}");
}

#[test]
fn black_text_on_transparent_gets_white_background() {
    let image = RgbaImage::from_fn(100, 40, |x, _| {
        if (40..60).contains(&x) {
            Rgba([0, 0, 0, 255])
        } else {
            Rgba([0, 0, 0, 0])
        }
    });
    let page = decode(&encode(&DynamicImage::ImageRgba8(image), ImageFormat::Png));
    assert_eq!(page.image.get_pixel(5, 5), &Rgb([255, 255, 255]));
    assert_eq!(page.image.get_pixel(50, 5), &Rgb([0, 0, 0]));
}

#[test]
fn white_text_on_transparent_gets_black_background() {
    let page = decode(&fixture("transparent_white_text.png"));
    let dark = page.image.pixels().filter(|pixel| luma(pixel) < 64).count();
    let light = page
        .image
        .pixels()
        .filter(|pixel| luma(pixel) > 192)
        .count();
    assert!(
        dark > light * 4,
        "background must be dark: {dark} dark, {light} light"
    );
    assert!(light > 0, "the white text must stay visible");
}

#[test]
fn white_text_fixture_from_rapidocr_stays_visible() {
    let page = decode(&fixture("external/rgba_transparent_white_text_zh.png"));
    let light = page
        .image
        .pixels()
        .filter(|pixel| luma(pixel) > 192)
        .count();
    let dark = page.image.pixels().filter(|pixel| luma(pixel) < 64).count();
    assert!(light > 0 && dark > light, "{dark} dark, {light} light");
}

#[test]
fn semi_transparent_photo_keeps_white_background() {
    // Mostly opaque images are composited on white whatever their colours.
    let image = RgbaImage::from_fn(50, 50, |x, _| {
        Rgba([250, 250, 250, if x < 2 { 0 } else { 255 }])
    });
    let page = decode(&encode(&DynamicImage::ImageRgba8(image), ImageFormat::Png));
    assert_eq!(page.image.get_pixel(0, 0), &Rgb([255, 255, 255]));
}

#[test]
fn bilevel_png_becomes_black_and_white_rgb() {
    let page = decode(&fixture("external/mode1_bilevel_issue170.png"));
    assert_eq!(page.image.dimensions(), (800, 566));
    assert!(
        page.image
            .pixels()
            .all(|pixel| pixel.0 == [0, 0, 0] || pixel.0 == [255, 255, 255])
    );
    assert!(page.image.pixels().any(|pixel| pixel.0 == [0, 0, 0]));
}

#[test]
fn cmyk_jpeg_keeps_white_paper_white() {
    let page = decode(&fixture("cmyk.jpg"));
    let corner = luma(page.image.get_pixel(2, 2));
    assert!(
        corner > 230,
        "paper must stay white, not inverted: luma {corner}"
    );
    assert!(
        page.image.pixels().any(|pixel| luma(pixel) < 60),
        "text must stay dark"
    );
}

#[test]
fn palette_gif_decodes_to_rgb() {
    let image = RgbImage::from_fn(30, 30, |x, _| {
        if x < 15 {
            Rgb([200, 30, 30])
        } else {
            Rgb([255, 255, 255])
        }
    });
    let page = decode(&encode(&DynamicImage::ImageRgb8(image), ImageFormat::Gif));
    let left = page.image.get_pixel(2, 2).0;
    assert!(left[0] > 150 && left[1] < 80, "{left:?}");
}
