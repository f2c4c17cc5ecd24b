//! AES-CBC with PKCS#7 padding: `IV(16) || ciphertext`, the protocol's
//! original and unauthenticated cipher.

use aes::{Aes128, Aes192, Aes256};
use cbc::cipher::block_padding::{NoPadding, Pkcs7};
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use zeroize::Zeroizing;

pub(super) const IV_LEN: usize = 16;
const BLOCK_LEN: usize = 16;

/// Decrypts `IV || ciphertext` and strips the PKCS#7 padding.
///
/// Every failure (short or misaligned input, bad padding) is the same
/// `None`, so callers cannot tell them apart.
pub(super) fn decrypt(key: &[u8], data: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let (iv, ciphertext) = split_iv(data)?;

    let mut plaintext = Zeroizing::new(ciphertext.to_vec());
    let decrypted = match key.len() {
        16 => decrypt_blocks::<cbc::Decryptor<Aes128>>(key, iv, &mut plaintext),
        24 => decrypt_blocks::<cbc::Decryptor<Aes192>>(key, iv, &mut plaintext),
        32 => decrypt_blocks::<cbc::Decryptor<Aes256>>(key, iv, &mut plaintext),
        _ => None,
    };
    decrypted?;

    let len = unpadded_len(&plaintext)?;
    plaintext.truncate(len);
    Some(plaintext)
}

/// Encrypts with PKCS#7 padding under `iv` and returns `IV || ciphertext`,
/// or `None` for a key that is not 16, 24 or 32 bytes.
pub(super) fn encrypt(key: &[u8], iv: &[u8; IV_LEN], plaintext: &[u8]) -> Option<Vec<u8>> {
    let ciphertext = match key.len() {
        16 => encrypt_padded::<cbc::Encryptor<Aes128>>(key, iv, plaintext),
        24 => encrypt_padded::<cbc::Encryptor<Aes192>>(key, iv, plaintext),
        32 => encrypt_padded::<cbc::Encryptor<Aes256>>(key, iv, plaintext),
        _ => None,
    }?;

    let mut sealed = Vec::with_capacity(IV_LEN + ciphertext.len());
    sealed.extend_from_slice(iv);
    sealed.extend_from_slice(&ciphertext);
    Some(sealed)
}

/// Splits off the IV, provided the rest is a whole number of blocks (at least one).
fn split_iv(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (iv, ciphertext) = data.split_at_checked(IV_LEN)?;
    let aligned = !ciphertext.is_empty() && ciphertext.len() % BLOCK_LEN == 0;
    aligned.then_some((iv, ciphertext))
}

fn decrypt_blocks<M: KeyIvInit + BlockModeDecrypt>(
    key: &[u8],
    iv: &[u8],
    buf: &mut [u8],
) -> Option<()> {
    let mode = M::new_from_slices(key, iv).ok()?;
    mode.decrypt_padded::<NoPadding>(buf).ok()?;
    Some(())
}

fn encrypt_padded<M: KeyIvInit + BlockModeEncrypt>(
    key: &[u8],
    iv: &[u8],
    plaintext: &[u8],
) -> Option<Vec<u8>> {
    let mode = M::new_from_slices(key, iv).ok()?;
    Some(mode.encrypt_padded_vec::<Pkcs7>(plaintext))
}

/// Returns the length without PKCS#7 padding, or `None` if the padding is
/// invalid. It inspects the whole last block without branching on its
/// bytes, so the time taken does not depend on where the padding breaks.
// NOTE: branch-free in the source only, because the compiler gives no
// constant-time guarantee. The uniform error is the main defence.
fn unpadded_len(plaintext: &[u8]) -> Option<usize> {
    let last_block = plaintext.get(plaintext.len().checked_sub(BLOCK_LEN)?..)?;
    let pad = last_block[BLOCK_LEN - 1];
    let pad_len = usize::from(pad);

    let mut invalid = u8::from(pad == 0) | u8::from(pad_len > BLOCK_LEN);
    for (index, &byte) in last_block.iter().enumerate() {
        let in_padding = u8::from(BLOCK_LEN - index <= pad_len);
        invalid |= in_padding & u8::from(byte != pad);
    }

    (invalid == 0).then(|| plaintext.len() - pad_len)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn padded(content: &[u8], pad: u8, pad_len: usize) -> Vec<u8> {
        let mut block = content.to_vec();
        block.extend(std::iter::repeat_n(pad, pad_len));
        block
    }

    #[test]
    fn unpad_accepts_valid_padding() {
        assert_eq!(unpadded_len(&padded(&[1; 15], 1, 1)), Some(15));
        assert_eq!(unpadded_len(&padded(&[1; 10], 6, 6)), Some(10));
        assert_eq!(unpadded_len(&padded(&[], 16, 16)), Some(0));
        assert_eq!(unpadded_len(&padded(&[9; 20], 12, 12)), Some(20));
    }

    #[test]
    fn unpad_rejects_invalid_padding() {
        assert_eq!(unpadded_len(&padded(&[1; 15], 0, 1)), None);
        assert_eq!(unpadded_len(&padded(&[1; 15], 17, 1)), None);
        assert_eq!(unpadded_len(&padded(&[1; 14], 3, 2)), None);
        assert_eq!(unpadded_len(&[0xff; 16]), None);
        let mut broken = padded(&[1; 8], 8, 8);
        broken[9] = 7;
        assert_eq!(unpadded_len(&broken), None);
        assert_eq!(unpadded_len(&[1; 5]), None);
    }

    #[test]
    fn round_trip_every_key_size() {
        let iv = [3; IV_LEN];
        for len in [16, 24, 32] {
            let key = vec![5; len];
            for plaintext in [&b""[..], b"x", &[7; 16], &[8; 33]] {
                let sealed = encrypt(&key, &iv, plaintext).unwrap();
                assert_eq!(sealed.len() % BLOCK_LEN, 0);
                assert_eq!(&decrypt(&key, &sealed).unwrap()[..], plaintext);
            }
        }
    }

    #[test]
    fn decrypt_rejects_bad_shapes() {
        let key = [5; 32];
        assert!(decrypt(&key, &[0; 16]).is_none());
        assert!(decrypt(&key, &[0; 31]).is_none());
        assert!(decrypt(&key, &[0; 40]).is_none());
        assert!(decrypt(&[5; 20], &[0; 32]).is_none());
    }
}
