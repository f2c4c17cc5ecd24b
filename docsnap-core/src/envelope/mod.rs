//! The encryption envelope of the DocuSnap protocol: an RSA-OAEP-wrapped AES
//! key, and `content` and results sealed with AES-CBC or AES-256-GCM.

mod aes_key;
mod cbc;
mod cipher;
mod client;
mod content;
mod encoding;
mod gcm;
mod server_key;

pub use aes_key::{AES_KEY_LENGTHS, AesKey};
pub use cipher::{Cipher, Mgf1Digest};
pub use client::{SealedRequest, seal_request, wrap_key};
pub use content::{associated_data, content_hash, content_hash_matches, open, open_json, seal};
pub(crate) use encoding::lower_hex;
pub use encoding::{decode_base64, encode_base64};
pub use server_key::{PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, ServerKey};
