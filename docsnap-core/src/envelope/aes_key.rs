//! The client's AES key, which the server holds only in memory.

use std::fmt;

use rand::TryRng as _;
use rand::rngs::SysRng;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};

/// The AES key sizes in bytes the protocol accepts: AES-128, -192 and -256.
pub const AES_KEY_LENGTHS: [usize; 3] = [16, 24, 32];

/// A 16, 24 or 32 byte AES key, zeroed when dropped.
#[derive(Clone)]
pub struct AesKey(Zeroizing<Vec<u8>>);

impl AesKey {
    /// Wraps raw key bytes, which must be 16, 24 or 32 bytes long, or else
    /// returns an `InvalidRequest` error.
    pub fn new(bytes: Vec<u8>) -> Result<Self> {
        let bytes = Zeroizing::new(bytes);
        check_length(bytes.len())?;
        Ok(Self(bytes))
    }

    /// Draws a key of `len` bytes from the operating system's random number
    /// generator.
    pub fn random(len: usize) -> Result<Self> {
        check_length(len)?;
        let mut bytes = Zeroizing::new(vec![0; len]);
        fill_random(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for AesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AesKey")
            .field("len", &self.0.len())
            .finish_non_exhaustive()
    }
}

fn check_length(len: usize) -> Result<()> {
    if AES_KEY_LENGTHS.contains(&len) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidRequest,
            format!("invalid AES key length {len} bytes: expected 16, 24 or 32 bytes"),
        ))
    }
}

/// Fills `buf` from the operating system's random number generator.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<()> {
    SysRng.try_fill_bytes(buf).map_err(|error| {
        Error::new(
            ErrorKind::ProcessingError,
            "the operating system's random number generator failed",
        )
        .with_source(error)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn key_accepts_aes_sizes() {
        for len in AES_KEY_LENGTHS {
            assert_eq!(AesKey::new(vec![7; len]).unwrap().as_bytes().len(), len);
            assert_eq!(AesKey::random(len).unwrap().as_bytes().len(), len);
        }
    }

    #[test]
    fn key_rejects_wrong_lengths() {
        for len in [0, 1, 15, 17, 20, 31, 33, 64] {
            let error = AesKey::new(vec![7; len]).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidRequest, "length {len}");
            assert!(
                error.message().contains(&len.to_string()),
                "{}",
                error.message()
            );

            assert_eq!(
                AesKey::random(len).unwrap_err().kind(),
                ErrorKind::InvalidRequest
            );
        }
    }

    #[test]
    fn random_keys_differ() {
        let first = AesKey::random(32).unwrap();
        let second = AesKey::random(32).unwrap();
        assert_ne!(first.as_bytes(), second.as_bytes());
    }

    #[test]
    fn debug_redacts_key() {
        let key = AesKey::new(vec![0xab; 16]).unwrap();
        let text = format!("{key:?}");
        assert_eq!(text, "AesKey { len: 16, .. }");
    }
}
