//! Base64 and hex in the spellings the protocol uses.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Decodes standard, padded base64, skipping ASCII whitespace so that
/// MIME line-wrapped text (`\n` or `\r\n` line breaks) decodes too.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    if text.bytes().any(|byte| byte.is_ascii_whitespace()) {
        let compact: Vec<u8> = text
            .bytes()
            .filter(|byte| !byte.is_ascii_whitespace())
            .collect();
        STANDARD.decode(compact).ok()
    } else {
        STANDARD.decode(text).ok()
    }
}

/// Encodes as standard, padded base64 without line breaks.
pub fn encode_base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

pub(crate) fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn base64_ignores_mime_line_breaks() {
        let expected = b"the quick brown fox jumps over the lazy dog".to_vec();
        let plain = encode_base64(&expected);
        let crlf = format!("{}\r\n{}\r\n", &plain[..20], &plain[20..]);
        let lf = format!("{}\n{}", &plain[..8], &plain[8..]);
        let spaced = format!(" {}\t{} ", &plain[..4], &plain[4..]);

        assert_eq!(decode_base64(&plain), Some(expected.clone()));
        assert_eq!(decode_base64(&crlf), Some(expected.clone()));
        assert_eq!(decode_base64(&lf), Some(expected.clone()));
        assert_eq!(decode_base64(&spaced), Some(expected));
    }

    #[test]
    fn base64_rejects_invalid_text() {
        assert_eq!(decode_base64("not base64!"), None);
        assert_eq!(decode_base64("QUJD-"), None);
        // Unpadded and URL-safe text is not the standard padded alphabet.
        assert_eq!(decode_base64("QUI"), None);
        assert_eq!(decode_base64("_-8="), None);
    }

    #[test]
    fn base64_empty_is_empty() {
        assert_eq!(decode_base64(""), Some(Vec::new()));
        assert_eq!(decode_base64("\r\n"), Some(Vec::new()));
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(lower_hex(&[0x00, 0xab, 0xff, 0x10]), "00abff10");
    }
}
