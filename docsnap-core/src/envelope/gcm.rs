//! AES-256-GCM: `nonce(12) || ciphertext || tag(16)`, the authenticated
//! cipher of the `A256GCM` extension.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::Zeroizing;

pub(super) const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// The only key size A256GCM allows, in bytes.
pub(super) const KEY_LEN: usize = 32;

/// Checks the tag over `aad` and the ciphertext, then decrypts. Returns
/// `None` for a wrong tag, a short input or a key that is not 32 bytes.
pub(super) fn decrypt(key: &[u8], data: &[u8], aad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if data.len() < NONCE_LEN + TAG_LEN {
        return None;
    }
    let cipher = Aes256Gcm::new_from_slice(key).ok()?;
    let (nonce, ciphertext) = data.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;

    let payload = Payload {
        msg: ciphertext,
        aad,
    };
    let plaintext = cipher.decrypt(&Nonce::from(nonce), payload).ok()?;
    Some(Zeroizing::new(plaintext))
}

/// Encrypts under `nonce` and returns `nonce || ciphertext || tag`, or
/// `None` for a key that is not 32 bytes.
pub(super) fn encrypt(
    key: &[u8],
    nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
    aad: &[u8],
) -> Option<Vec<u8>> {
    let cipher = Aes256Gcm::new_from_slice(key).ok()?;
    let payload = Payload {
        msg: plaintext,
        aad,
    };
    let ciphertext = cipher.encrypt(&Nonce::from(*nonce), payload).ok()?;

    let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    sealed.extend_from_slice(nonce);
    sealed.extend_from_slice(&ciphertext);
    Some(sealed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_aad() {
        let key = [9; KEY_LEN];
        let sealed = encrypt(&key, &[1; NONCE_LEN], b"{}", b"client\ndoc").unwrap();

        assert_eq!(sealed.len(), NONCE_LEN + 2 + TAG_LEN);
        assert_eq!(&decrypt(&key, &sealed, b"client\ndoc").unwrap()[..], b"{}");
    }

    #[test]
    fn decrypt_rejects_tampering() {
        let key = [9; KEY_LEN];
        let sealed = encrypt(&key, &[1; NONCE_LEN], b"{}", b"aad").unwrap();

        let mut flipped = sealed.clone();
        flipped[NONCE_LEN] ^= 1;
        assert!(decrypt(&key, &flipped, b"aad").is_none());
        assert!(decrypt(&key, &sealed, b"other aad").is_none());
        assert!(decrypt(&[8; KEY_LEN], &sealed, b"aad").is_none());
        assert!(decrypt(&key, &sealed[..NONCE_LEN + TAG_LEN - 1], b"aad").is_none());
    }

    #[test]
    fn short_keys_are_rejected() {
        assert!(encrypt(&[9; 16], &[1; NONCE_LEN], b"{}", b"").is_none());
        assert!(decrypt(&[9; 24], &[0; 40], b"").is_none());
    }
}
