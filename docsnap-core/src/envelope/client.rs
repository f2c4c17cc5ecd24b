//! The client's half of the envelope: wrapping a fresh AES key and sealing
//! the inner payload into the fields of a `/process` request.

use rand::rngs::SysRng;
use rsa::pkcs1::DecodeRsaPublicKey as _;
use rsa::pkcs8::DecodePublicKey as _;
use rsa::{Oaep, PublicKey};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::Sha256;

use super::aes_key::AesKey;
use super::cipher::{Cipher, Mgf1Digest};
use super::content::{associated_data, content_hash, seal};
use super::encoding::encode_base64;
use crate::error::{Error, ErrorKind, Result};
use crate::types::TaskKind;

/// The encrypted fields of a `/process` request, named as on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedRequest {
    /// The sealed inner payload, standard padded base64.
    pub content: String,
    /// The RSA-OAEP-wrapped AES key, standard padded base64.
    pub aes_key: String,
    /// Lowercase hex SHA-256 of `content`.
    #[serde(rename = "SHA256")]
    pub sha256: String,
}

/// Encrypts `key` for the server: RSA-OAEP with SHA-256, no label, and
/// `mgf1` as the MGF1 digest. Accepts SPKI or PKCS#1 public key PEM.
pub fn wrap_key(public_key_pem: &str, key: &AesKey, mgf1: Mgf1Digest) -> Result<String> {
    let public_key = parse_public_key(public_key_pem)?;

    let wrapped = match mgf1 {
        Mgf1Digest::Sha256 => {
            public_key.encrypt(&mut SysRng, Oaep::<Sha256>::new(), key.as_bytes())
        }
        Mgf1Digest::Sha1 => public_key.encrypt(
            &mut SysRng,
            Oaep::<Sha256, Sha1>::new_with_mgf_hash(),
            key.as_bytes(),
        ),
    }
    .map_err(|error| {
        Error::new(
            ErrorKind::ProcessingError,
            "RSA-OAEP encryption of the AES key failed",
        )
        .with_source(error)
    })?;

    Ok(encode_base64(&wrapped))
}

/// Seals `payload` as a client does: draws a 32-byte AES key, encrypts the
/// payload's JSON under `cipher`, hashes the content and wraps the key.
///
/// Returns the key as well, because the client needs it to open the result.
///
/// ```
/// use docsnap_core::envelope::{Cipher, Mgf1Digest, ServerKey, associated_data, open_json, seal_request};
/// use docsnap_core::types::TaskKind;
///
/// let server = ServerKey::generate()?;
/// let payload = serde_json::json!({"to_process": ["aGVsbG8="]});
/// let (request, _key) = seal_request(
///     &server.public_key_pem(),
///     "client-1",
///     TaskKind::Doc,
///     Cipher::A256Gcm,
///     &payload,
///     Mgf1Digest::Sha256,
/// )?;
///
/// // The server's side: unwrap the key, then open the content.
/// let key = server.unwrap_key(&request.aes_key)?;
/// let aad = associated_data("client-1", TaskKind::Doc);
/// assert_eq!(open_json(&key, Cipher::A256Gcm, &request.content, &aad)?, payload);
/// # Ok::<(), docsnap_core::Error>(())
/// ```
pub fn seal_request(
    public_key_pem: &str,
    client_id: &str,
    kind: TaskKind,
    cipher: Cipher,
    payload: &serde_json::Value,
    mgf1: Mgf1Digest,
) -> Result<(SealedRequest, AesKey)> {
    let key = AesKey::random(32)?;
    let aad = match cipher {
        Cipher::Cbc => Vec::new(),
        Cipher::A256Gcm => associated_data(client_id, kind),
    };

    let plaintext = zeroize::Zeroizing::new(payload.to_string().into_bytes());
    let content = seal(&key, cipher, &plaintext, &aad)?;
    let sha256 = content_hash(&content);
    let aes_key = wrap_key(public_key_pem, &key, mgf1)?;

    let request = SealedRequest {
        content,
        aes_key,
        sha256,
    };
    Ok((request, key))
}

fn parse_public_key(pem: &str) -> Result<PublicKey> {
    let pem = pem.trim();
    let parsed = if pem.starts_with("-----BEGIN RSA PUBLIC KEY-----") {
        PublicKey::from_pkcs1_pem(pem).map_err(|error| error.to_string())
    } else {
        PublicKey::from_public_key_pem(pem).map_err(|error| error.to_string())
    };

    parsed.map_err(|reason| {
        Error::new(
            ErrorKind::InvalidConfig,
            format!(
                "invalid RSA public key PEM ({reason}): expected `-----BEGIN PUBLIC KEY-----`, \
                 such as the server's server_key.pub.pem"
            ),
        )
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::envelope::{ServerKey, open, open_json};

    const PRIVATE_PEM: &str = include_str!("../../tests/fixtures/envelope/test_key.pem");

    #[test]
    fn sealed_request_opens_on_server() {
        let server = ServerKey::from_pem(PRIVATE_PEM).unwrap();
        let payload = serde_json::json!({"to_process": ["aGVsbG8="], "file_lib": {"docs": []}});

        for cipher in [Cipher::Cbc, Cipher::A256Gcm] {
            for mgf1 in [Mgf1Digest::Sha256, Mgf1Digest::Sha1] {
                let (request, key) = seal_request(
                    &server.public_key_pem(),
                    "client-1",
                    TaskKind::Doc,
                    cipher,
                    &payload,
                    mgf1,
                )
                .unwrap();

                assert_eq!(request.sha256, content_hash(&request.content));
                let unwrapped = server.unwrap_key(&request.aes_key).unwrap();
                assert_eq!(unwrapped.as_bytes(), key.as_bytes());

                let aad = associated_data("client-1", TaskKind::Doc);
                let opened = open_json(&unwrapped, cipher, &request.content, &aad).unwrap();
                assert_eq!(opened, payload, "{cipher} {mgf1:?}");
            }
        }
    }

    #[test]
    fn gcm_request_is_bound_to_task() {
        let server = ServerKey::from_pem(PRIVATE_PEM).unwrap();
        let payload = serde_json::json!({"to_process": []});
        let (request, key) = seal_request(
            &server.public_key_pem(),
            "client-1",
            TaskKind::Form,
            Cipher::A256Gcm,
            &payload,
            Mgf1Digest::Sha256,
        )
        .unwrap();

        let wrong_task = associated_data("client-1", TaskKind::Doc);
        let error = open(&key, Cipher::A256Gcm, &request.content, &wrong_task).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::AesDecryptionFailed);
    }

    #[test]
    fn sealed_request_serializes_wire_names() {
        let request = SealedRequest {
            content: "c".into(),
            aes_key: "k".into(),
            sha256: "h".into(),
        };
        let json = serde_json::to_string(&request).unwrap();
        assert_eq!(json, r#"{"content":"c","aes_key":"k","SHA256":"h"}"#);
    }

    #[test]
    fn wrap_rejects_invalid_public_key() {
        let key = AesKey::random(32).unwrap();
        for pem in ["", "not a key", PRIVATE_PEM] {
            let error = wrap_key(pem, &key, Mgf1Digest::Sha256).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidConfig);
            assert!(!error.message().contains("MII"), "{}", error.message());
        }
    }
}
