//! Opening a request's `content` and sealing results, under either cipher.

use serde_json::Value;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::aes_key::{AesKey, fill_random};
use super::cipher::Cipher;
use super::encoding::{decode_base64, encode_base64, lower_hex};
use super::{cbc, gcm};
use crate::error::{Error, ErrorKind, Result};
use crate::types::TaskKind;

/// Hashes `content` as the protocol does: lowercase hex SHA-256 of the
/// base64 text exactly as sent, line breaks included.
pub fn content_hash(content: &str) -> String {
    lower_hex(&Sha256::digest(content.as_bytes()))
}

/// Checks a request's `SHA256` against `content`, accepting uppercase hex
/// because the protocol treats it as its lowercase form.
pub fn content_hash_matches(content: &str, sha256: &str) -> bool {
    content_hash(content).eq_ignore_ascii_case(sha256)
}

/// Builds the A256GCM associated data, `client_id + "\n" + type`, which
/// binds a sealed payload to its task so it cannot be replayed under another.
pub fn associated_data(client_id: &str, kind: TaskKind) -> Vec<u8> {
    format!("{client_id}\n{kind}").into_bytes()
}

/// Decrypts a request's `content` and parses it as JSON.
///
/// Under CBC every failure, including plaintext that is not JSON, is the
/// same `AesDecryptionFailed` error. Under A256GCM a wrong tag is
/// `AesDecryptionFailed` and authentic plaintext that is not JSON is
/// `InvalidJson`. `aad` is ignored under CBC.
pub fn open_json(key: &AesKey, cipher: Cipher, content_b64: &str, aad: &[u8]) -> Result<Value> {
    match cipher {
        Cipher::Cbc => open_cbc_json(key, content_b64),
        Cipher::A256Gcm => {
            let plaintext = open_gcm(key, content_b64, aad)?;
            serde_json::from_slice(&plaintext).map_err(|error| {
                // Only the position, because serde_json messages can quote the input.
                Error::new(
                    ErrorKind::InvalidJson,
                    format!(
                        "decrypted content is not valid JSON (line {}, column {}): send the inner payload as UTF-8 JSON",
                        error.line(),
                        error.column()
                    ),
                )
            })
        }
    }
}

/// Decrypts `content_b64` to raw bytes, as a client reads a result. Every
/// failure is `AesDecryptionFailed`, and `aad` is ignored under CBC.
pub fn open(key: &AesKey, cipher: Cipher, content_b64: &str, aad: &[u8]) -> Result<Vec<u8>> {
    let mut plaintext = match cipher {
        Cipher::Cbc => decode_base64(content_b64)
            .and_then(|data| cbc::decrypt(key.as_bytes(), &data))
            .ok_or_else(cbc_failure)?,
        Cipher::A256Gcm => open_gcm(key, content_b64, aad)?,
    };
    // The plaintext moves out without copying, and from here the caller must clear it.
    Ok(std::mem::take(&mut *plaintext))
}

/// Encrypts `plaintext` under a fresh random IV or nonce and returns
/// standard padded base64 without line breaks. `aad` is ignored under CBC.
pub fn seal(key: &AesKey, cipher: Cipher, plaintext: &[u8], aad: &[u8]) -> Result<String> {
    let sealed = match cipher {
        Cipher::Cbc => {
            let mut iv = [0; cbc::IV_LEN];
            fill_random(&mut iv)?;
            cbc::encrypt(key.as_bytes(), &iv, plaintext)
        }
        Cipher::A256Gcm => {
            check_gcm_key(key, ErrorKind::InvalidRequest)?;
            let mut nonce = [0; gcm::NONCE_LEN];
            fill_random(&mut nonce)?;
            gcm::encrypt(key.as_bytes(), &nonce, plaintext, aad)
        }
    };

    let sealed = sealed.ok_or_else(|| {
        Error::new(
            ErrorKind::ProcessingError,
            format!("{cipher} encryption failed"),
        )
    })?;
    Ok(encode_base64(&sealed))
}

/// Opens CBC content as JSON through one path for every failure.
///
/// Each step yields an `Option` and only the end builds the error, so bad
/// base64, a bad length, bad padding and bad JSON give the same error. A
/// client that could tell bad padding from bad JSON could use the server as
/// a padding oracle and decrypt a captured request.
fn open_cbc_json(key: &AesKey, content_b64: &str) -> Result<Value> {
    let data = decode_base64(content_b64);
    let plaintext = data
        .as_deref()
        .and_then(|data| cbc::decrypt(key.as_bytes(), data));
    let json = plaintext
        .as_deref()
        .and_then(|plaintext| serde_json::from_slice::<Value>(plaintext).ok());
    json.ok_or_else(cbc_failure)
}

fn cbc_failure() -> Error {
    Error::new(
        ErrorKind::AesDecryptionFailed,
        "content could not be decrypted: expected base64 of IV || AES-CBC ciphertext \
         of a JSON payload, encrypted with the key sent in aes_key",
    )
}

fn open_gcm(key: &AesKey, content_b64: &str, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    check_gcm_key(key, ErrorKind::AesDecryptionFailed)?;

    let data = decode_base64(content_b64).ok_or_else(|| {
        Error::new(
            ErrorKind::AesDecryptionFailed,
            "content is not valid base64: expected the standard padded alphabet",
        )
    })?;

    gcm::decrypt(key.as_bytes(), &data, aad).ok_or_else(|| {
        Error::new(
            ErrorKind::AesDecryptionFailed,
            "content could not be decrypted with A256GCM: the authentication tag does not \
             match, so the key, the content, client_id or type differ from what was sealed",
        )
    })
}

fn check_gcm_key(key: &AesKey, kind: ErrorKind) -> Result<()> {
    let len = key.as_bytes().len();
    if len == gcm::KEY_LEN {
        Ok(())
    } else {
        Err(Error::new(
            kind,
            format!(
                "A256GCM needs a 32-byte AES key, got {len} bytes: send a 32-byte key or use CBC"
            ),
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key(len: usize) -> AesKey {
        AesKey::new((0..len).map(|i| i as u8).collect()).unwrap()
    }

    /// Builds CBC content under `key` from raw plaintext, which may be
    /// anything, not only JSON.
    fn cbc_content(key: &AesKey, plaintext: &[u8]) -> String {
        seal(key, Cipher::Cbc, plaintext, b"").unwrap()
    }

    /// Flips the last byte of the next-to-last block, which garbles the
    /// padding byte of the last block.
    fn with_broken_padding(content: &str) -> String {
        let mut data = decode_base64(content).unwrap();
        let index = data.len() - 17;
        data[index] ^= 0x5a;
        encode_base64(&data)
    }

    #[test]
    fn cbc_json_round_trip() {
        let payload = serde_json::json!({"to_process": ["aGk="], "file_lib": {}});
        for len in [16, 24, 32] {
            let key = key(len);
            let content = cbc_content(&key, payload.to_string().as_bytes());
            assert_eq!(
                open_json(&key, Cipher::Cbc, &content, b"").unwrap(),
                payload
            );
        }
    }

    #[test]
    fn padding_oracle_errors_are_identical() {
        let key = key(32);
        let bad_padding =
            with_broken_padding(&cbc_content(&key, br#"{"a": "bcdefghijklmnopqrstuvwxyz"}"#));
        let bad_json = cbc_content(&key, b"not json at all");
        let bad_utf8 = cbc_content(&key, &[0xff, 0xfe, 0x00]);
        let bad_length = encode_base64(&[0; 40]);
        let bad_base64 = "%%%not base64%%%".to_string();
        let empty = String::new();

        let errors: Vec<Error> = [
            bad_padding,
            bad_json,
            bad_utf8,
            bad_length,
            bad_base64,
            empty,
        ]
        .iter()
        .map(|content| open_json(&key, Cipher::Cbc, content, b"").unwrap_err())
        .collect();

        for error in &errors {
            assert_eq!(error.kind(), ErrorKind::AesDecryptionFailed);
            assert_eq!(error.message(), errors[0].message());
        }
    }

    #[test]
    fn cbc_wrong_key_fails() {
        let content = cbc_content(&key(32), b"{}");
        let other = AesKey::new(vec![0xee; 32]).unwrap();
        let error = open_json(&other, Cipher::Cbc, &content, b"").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::AesDecryptionFailed);
    }

    #[test]
    fn gcm_json_round_trip() {
        let key = key(32);
        let aad = associated_data("c1", TaskKind::Form);
        let content = seal(&key, Cipher::A256Gcm, br#"{"ok": true}"#, &aad).unwrap();

        let value = open_json(&key, Cipher::A256Gcm, &content, &aad).unwrap();
        assert_eq!(value, serde_json::json!({"ok": true}));
    }

    #[test]
    fn gcm_wrong_aad_fails() {
        let key = key(32);
        let aad = associated_data("c1", TaskKind::Doc);
        let content = seal(&key, Cipher::A256Gcm, b"{}", &aad).unwrap();

        for other in [
            associated_data("c1", TaskKind::Fill),
            associated_data("c2", TaskKind::Doc),
            Vec::new(),
        ] {
            let error = open_json(&key, Cipher::A256Gcm, &content, &other).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::AesDecryptionFailed);
        }
    }

    #[test]
    fn gcm_not_json_is_invalid_json() {
        let key = key(32);
        let content = seal(&key, Cipher::A256Gcm, b"{\"secret\": nope", b"x").unwrap();

        let error = open_json(&key, Cipher::A256Gcm, &content, b"x").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidJson);
        assert!(!error.message().contains("secret"), "{}", error.message());
        assert!(!error.message().contains("nope"), "{}", error.message());
    }

    #[test]
    fn gcm_needs_32_byte_key() {
        let short = key(16);
        let seal_error = seal(&short, Cipher::A256Gcm, b"{}", b"").unwrap_err();
        assert_eq!(seal_error.kind(), ErrorKind::InvalidRequest);

        let content = seal(&key(32), Cipher::A256Gcm, b"{}", b"").unwrap();
        let open_error = open_json(&short, Cipher::A256Gcm, &content, b"").unwrap_err();
        assert_eq!(open_error.kind(), ErrorKind::AesDecryptionFailed);
        assert!(
            open_error.message().contains("32-byte"),
            "{}",
            open_error.message()
        );
    }

    #[test]
    fn seal_uses_fresh_iv() {
        let key = key(32);
        for cipher in [Cipher::Cbc, Cipher::A256Gcm] {
            let first = seal(&key, cipher, b"{}", b"").unwrap();
            let second = seal(&key, cipher, b"{}", b"").unwrap();
            assert_ne!(first, second, "{cipher}");
            assert!(!first.contains('\n'));
        }
    }

    #[test]
    fn open_returns_raw_bytes() {
        let key = key(24);
        let content = cbc_content(&key, b"\x00raw\xff");
        assert_eq!(
            open(&key, Cipher::Cbc, &content, b"").unwrap(),
            b"\x00raw\xff"
        );

        let broken = with_broken_padding(&content);
        let error = open(&key, Cipher::Cbc, &broken, b"").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::AesDecryptionFailed);
    }

    #[test]
    fn hash_is_lowercase_hex_of_text() {
        // sha256("abc"), a FIPS 180-2 test vector.
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(content_hash("abc"), expected);
        assert_ne!(content_hash("abc\r\n"), expected);
    }

    #[test]
    fn hash_match_ignores_case() {
        let lower = content_hash("QUJD");
        let upper = lower.to_ascii_uppercase();

        assert!(content_hash_matches("QUJD", &lower));
        assert!(content_hash_matches("QUJD", &upper));
        assert!(!content_hash_matches("QUJE", &lower));
        assert!(!content_hash_matches("QUJD", &lower[1..]));
    }

    #[test]
    fn associated_data_joins_with_newline() {
        assert_eq!(associated_data("abc-123", TaskKind::Fill), b"abc-123\nfill");
    }
}
