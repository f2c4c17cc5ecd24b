//! The algorithm choices a request or a client makes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, ErrorKind};

/// The symmetric cipher of `content` and of the result: the request's
/// `cipher` field, where an absent field means [`Cipher::Cbc`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Cipher {
    /// AES-CBC with PKCS#7 padding and a 16-byte IV, under a 16, 24 or 32
    /// byte key. It is unauthenticated and kept for the existing clients.
    #[default]
    Cbc,
    /// AES-256-GCM with a 12-byte nonce, a 16-byte tag and
    /// `client_id + "\n" + type` as associated data.
    A256Gcm,
}

impl Cipher {
    /// Returns the spelling of the request's `cipher` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Cipher::Cbc => "CBC",
            Cipher::A256Gcm => "A256GCM",
        }
    }
}

impl fmt::Display for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Cipher {
    type Err = Error;

    /// Parses `A256GCM` or `CBC`, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("A256GCM") {
            Ok(Cipher::A256Gcm)
        } else if s.eq_ignore_ascii_case("CBC") {
            Ok(Cipher::Cbc)
        } else {
            Err(Error::new(
                ErrorKind::InvalidRequest,
                format!(
                    "invalid cipher {s:?}: expected \"A256GCM\" or \"CBC\", or omit the field for CBC"
                ),
            ))
        }
    }
}

impl Serialize for Cipher {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Cipher {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The digest of MGF1 in RSA-OAEP when a client wraps a key. The OAEP hash
/// itself is always SHA-256.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Mgf1Digest {
    /// What the Android app and browsers (WebCrypto) use.
    #[default]
    Sha256,
    /// What Java's `RSA/ECB/OAEPWithSHA-256AndMGF1Padding` uses.
    Sha1,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cipher_parses_protocol_spelling() {
        assert_eq!("A256GCM".parse::<Cipher>().unwrap(), Cipher::A256Gcm);
        assert_eq!("a256gcm".parse::<Cipher>().unwrap(), Cipher::A256Gcm);
        assert_eq!("CBC".parse::<Cipher>().unwrap(), Cipher::Cbc);
    }

    #[test]
    fn cipher_rejects_unknown_name() {
        let error = "AES-CTR".parse::<Cipher>().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidRequest);
        assert!(error.message().contains("AES-CTR"), "{}", error.message());
    }

    #[test]
    fn cipher_serde_round_trip() {
        #[derive(Deserialize)]
        struct Request {
            #[serde(default)]
            cipher: Cipher,
        }

        let absent: Request = serde_json::from_str("{}").unwrap();
        let gcm: Request = serde_json::from_str(r#"{"cipher": "A256GCM"}"#).unwrap();

        assert_eq!(absent.cipher, Cipher::Cbc);
        assert_eq!(gcm.cipher, Cipher::A256Gcm);
        assert_eq!(
            serde_json::to_string(&Cipher::A256Gcm).unwrap(),
            r#""A256GCM""#
        );
        assert!(serde_json::from_str::<Request>(r#"{"cipher": "RC4"}"#).is_err());
    }
}
