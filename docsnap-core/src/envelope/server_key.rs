//! The server's RSA key pair, which unwraps the AES keys clients send.

use std::fmt;
use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

use rand::rngs::SysRng;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use rsa::traits::PublicKeyParts as _;
use rsa::{Oaep, PrivateKey};
use sha1::Sha1;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::aes_key::AesKey;
use super::encoding::{decode_base64, lower_hex};
use crate::error::{Error, ErrorKind, Result};

/// The private key's file name in the data directory (PKCS#8 PEM, mode 0600).
pub const PRIVATE_KEY_FILE: &str = "server_key.pem";

/// The public key's file name in the data directory (SPKI PEM), for clients.
pub const PUBLIC_KEY_FILE: &str = "server_key.pub.pem";

/// The modulus size of generated keys, and the minimum for loaded ones.
const KEY_BITS: usize = 2048;

/// The server's RSA private key with its public PEM and fingerprint.
pub struct ServerKey {
    private_key: PrivateKey,
    public_key_pem: String,
    fingerprint: String,
}

impl ServerKey {
    /// Generates a fresh 2048-bit key.
    pub fn generate() -> Result<Self> {
        let private_key = PrivateKey::new(&mut SysRng, KEY_BITS).map_err(|error| {
            Error::new(
                ErrorKind::InvalidConfig,
                "generating the server's RSA key failed",
            )
            .with_source(error)
        })?;
        Self::from_private_key(private_key)
    }

    /// Parses an unencrypted RSA private key in PKCS#8 (`BEGIN PRIVATE KEY`)
    /// or PKCS#1 (`BEGIN RSA PRIVATE KEY`) PEM.
    pub fn from_pem(pem: &str) -> Result<Self> {
        let pem = pem.trim();
        let parsed = if pem.starts_with("-----BEGIN PRIVATE KEY-----") {
            PrivateKey::from_pkcs8_pem(pem).map_err(|error| invalid_pem("PKCS#8", error))
        } else if pem.starts_with("-----BEGIN RSA PRIVATE KEY-----") {
            PrivateKey::from_pkcs1_pem(pem).map_err(|error| invalid_pem("PKCS#1", error))
        } else if pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            Err(Error::new(
                ErrorKind::InvalidConfig,
                "the RSA private key is encrypted, which is not supported: \
                 decrypt it with `openssl pkey -in KEY -out KEY.pem`",
            ))
        } else {
            Err(Error::new(
                ErrorKind::InvalidConfig,
                "not an RSA private key PEM: expected a file starting with \
                 `-----BEGIN PRIVATE KEY-----` or `-----BEGIN RSA PRIVATE KEY-----`",
            ))
        };
        Self::from_private_key(parsed?)
    }

    /// Loads `data_dir/server_key.pem`, or generates and saves a key there
    /// with mode 0600 if it is missing, and writes `server_key.pub.pem`.
    ///
    /// Creates `data_dir` (mode 0700) if it is missing. On Unix, rejects a
    /// private key file that group or others can read or write.
    pub fn load_or_generate(data_dir: &Path) -> Result<Self> {
        create_data_dir(data_dir)?;

        let private_path = data_dir.join(PRIVATE_KEY_FILE);
        let key = match load_key_file(&private_path)? {
            Some(key) => key,
            None => generate_key_file(&private_path)?,
        };

        write_public_key_file(&data_dir.join(PUBLIC_KEY_FILE), &key.public_key_pem)?;
        Ok(key)
    }

    /// Returns the public key as SPKI PEM (`BEGIN PUBLIC KEY`), which clients
    /// use to wrap their AES keys.
    pub fn public_key_pem(&self) -> String {
        self.public_key_pem.clone()
    }

    /// Returns the lowercase hex SHA-256 of the public key's SPKI DER encoding.
    pub fn fingerprint(&self) -> String {
        self.fingerprint.clone()
    }

    /// Decrypts a request's `aes_key`: RSA-OAEP with SHA-256 and no label,
    /// trying MGF1-SHA-256 (app, browsers) before MGF1-SHA-1 (Java).
    ///
    /// Every failure, including an unwrapped key that is not 16, 24 or 32
    /// bytes, is `RsaDecryptionFailed`.
    pub fn unwrap_key(&self, wrapped_b64: &str) -> Result<AesKey> {
        let wrapped = decode_base64(wrapped_b64).ok_or_else(|| {
            Error::new(
                ErrorKind::RsaDecryptionFailed,
                "aes_key is not valid base64: expected the standard padded alphabet",
            )
        })?;

        let raw_key = self
            .private_key
            .decrypt(Oaep::<Sha256>::new(), &wrapped)
            .or_else(|_| {
                let mgf1_sha1 = Oaep::<Sha256, Sha1>::new_with_mgf_hash();
                self.private_key.decrypt(mgf1_sha1, &wrapped)
            })
            .map_err(|_| unwrap_failure())?;

        AesKey::new(raw_key).map_err(|_| unwrap_failure())
    }

    fn from_private_key(private_key: PrivateKey) -> Result<Self> {
        let bits = private_key.size() * 8;
        if bits < KEY_BITS {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                format!(
                    "the RSA key has {bits} bits, but at least {KEY_BITS} are required: \
                     generate a new key with `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`"
                ),
            ));
        }

        let public_key = private_key.as_public_key();
        let der = public_key.to_public_key_der().map_err(encoding_failure)?;
        let public_key_pem = public_key
            .to_public_key_pem(LineEnding::LF)
            .map_err(encoding_failure)?;
        let fingerprint = lower_hex(&Sha256::digest(der.as_bytes()));

        Ok(Self {
            private_key,
            public_key_pem,
            fingerprint,
        })
    }

    fn private_key_pem(&self) -> Result<Zeroizing<String>> {
        self.private_key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(encoding_failure)
    }
}

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerKey")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

fn unwrap_failure() -> Error {
    Error::new(
        ErrorKind::RsaDecryptionFailed,
        "aes_key could not be decrypted: expected a 16, 24 or 32 byte AES key encrypted \
         with RSA-OAEP (SHA-256) under this server's public key",
    )
}

fn invalid_pem(format: &str, error: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::new(
        ErrorKind::InvalidConfig,
        format!("invalid {format} RSA private key PEM: {error}"),
    )
}

fn encoding_failure(error: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::new(
        ErrorKind::InvalidConfig,
        "encoding the server's RSA key failed",
    )
    .with_source(error)
}

fn io_failure(action: &str, path: &Path, error: io::Error) -> Error {
    Error::new(
        ErrorKind::InvalidConfig,
        format!("{action} {} failed: {error}", path.display()),
    )
    .with_source(error)
}

fn create_data_dir(data_dir: &Path) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);

    builder
        .create(data_dir)
        .map_err(|error| io_failure("creating the data directory", data_dir, error))
}

/// Reads the private key file, or returns `None` if it does not exist.
fn load_key_file(path: &Path) -> Result<Option<ServerKey>> {
    let metadata = match fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io_failure("reading the server key file", path, error)),
    };
    check_private_permissions(path, &metadata)?;

    let pem = Zeroizing::new(
        fs::read_to_string(path)
            .map_err(|error| io_failure("reading the server key file", path, error))?,
    );
    let key = ServerKey::from_pem(&pem).map_err(|error| {
        Error::new(
            error.kind(),
            format!(
                "invalid server key file {}: {}",
                path.display(),
                error.message()
            ),
        )
    })?;

    tracing::info!(path = %path.display(), fingerprint = %key.fingerprint, "loaded the server RSA key");
    Ok(Some(key))
}

#[cfg(unix)]
fn check_private_permissions(path: &Path, metadata: &fs::Metadata) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;

    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::InvalidConfig,
        format!(
            "server key file {path} is accessible by group or others (mode {mode:o}): \
             run `chmod 600 {path}`",
            path = path.display()
        ),
    ))
}

// NOTE: Windows has no mode bits, so the file is left to the directory's ACL.
#[cfg(not(unix))]
fn check_private_permissions(_path: &Path, _metadata: &fs::Metadata) -> Result<()> {
    Ok(())
}

fn generate_key_file(path: &Path) -> Result<ServerKey> {
    let key = ServerKey::generate()?;
    let pem = key.private_key_pem()?;

    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);

    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            // Another process created the key after our check, so use that one.
            return load_key_file(path)?.ok_or_else(|| {
                io_failure(
                    "reading the server key file",
                    path,
                    io::ErrorKind::NotFound.into(),
                )
            });
        }
        Err(error) => return Err(io_failure("creating the server key file", path, error)),
    };
    file.write_all(pem.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|error| io_failure("writing the server key file", path, error))?;

    tracing::info!(path = %path.display(), fingerprint = %key.fingerprint, "generated a new server RSA key");
    Ok(key)
}

/// Writes the public key PEM unless the file already contains it.
fn write_public_key_file(path: &Path, pem: &str) -> Result<()> {
    if fs::read_to_string(path).is_ok_and(|existing| existing == pem) {
        return Ok(());
    }
    fs::write(path, pem).map_err(|error| io_failure("writing the public key file", path, error))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::envelope::{Mgf1Digest, wrap_key};

    const PKCS8_PEM: &str = include_str!("../../tests/fixtures/envelope/test_key.pem");
    const PKCS1_PEM: &str = include_str!("../../tests/fixtures/envelope/test_key_pkcs1.pem");
    const PUBLIC_PEM: &str = include_str!("../../tests/fixtures/envelope/test_key.pub.pem");

    #[cfg(unix)]
    fn mode_of(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn server_key_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<ServerKey>();
    }

    #[test]
    fn pkcs8_and_pkcs1_pem_load_same_key() {
        let pkcs8 = ServerKey::from_pem(PKCS8_PEM).unwrap();
        let pkcs1 = ServerKey::from_pem(PKCS1_PEM).unwrap();

        assert_eq!(pkcs8.fingerprint(), pkcs1.fingerprint());
        assert_eq!(pkcs8.public_key_pem(), PUBLIC_PEM);
        assert_eq!(pkcs8.fingerprint().len(), 64);
    }

    #[test]
    fn pem_with_crlf_loads() {
        let crlf = PKCS8_PEM.replace('\n', "\r\n");
        let key = ServerKey::from_pem(&crlf).unwrap();
        assert_eq!(key.public_key_pem(), PUBLIC_PEM);
    }

    #[test]
    fn invalid_pem_is_rejected() {
        for pem in [
            "",
            "hello",
            PUBLIC_PEM,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        ] {
            let error = ServerKey::from_pem(pem).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidConfig, "{pem:?}");
        }
    }

    #[test]
    fn short_rsa_key_is_rejected() {
        let short = PrivateKey::new(&mut SysRng, 1024).unwrap();
        let error = ServerKey::from_private_key(short).unwrap_err();

        assert_eq!(error.kind(), ErrorKind::InvalidConfig);
        assert!(error.message().contains("1024 bits"), "{}", error.message());
    }

    #[test]
    fn debug_shows_only_fingerprint() {
        let key = ServerKey::from_pem(PKCS8_PEM).unwrap();
        let text = format!("{key:?}");
        assert_eq!(
            text,
            format!("ServerKey {{ fingerprint: {:?}, .. }}", key.fingerprint())
        );
    }

    #[test]
    fn unwrap_accepts_both_mgf1_digests() {
        let key = ServerKey::from_pem(PKCS8_PEM).unwrap();
        for len in [16, 24, 32] {
            let aes_key = AesKey::random(len).unwrap();
            for mgf1 in [Mgf1Digest::Sha256, Mgf1Digest::Sha1] {
                let wrapped = wrap_key(PUBLIC_PEM, &aes_key, mgf1).unwrap();
                let unwrapped = key.unwrap_key(&wrapped).unwrap();
                assert_eq!(
                    unwrapped.as_bytes(),
                    aes_key.as_bytes(),
                    "{len} bytes, {mgf1:?}"
                );
            }
        }
    }

    #[test]
    fn unwrap_rejects_garbage() {
        let key = ServerKey::from_pem(PKCS8_PEM).unwrap();
        let wrong_size = super::super::encode_base64(&[1; 256]);
        for wrapped in ["", "%%%", "AAAA", wrong_size.as_str()] {
            let error = key.unwrap_key(wrapped).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::RsaDecryptionFailed, "{wrapped:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn generated_key_persists_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("nested").join("data");

        let first = ServerKey::load_or_generate(&data_dir).unwrap();
        let private_path = data_dir.join(PRIVATE_KEY_FILE);
        let public_path = data_dir.join(PUBLIC_KEY_FILE);

        assert_eq!(mode_of(&private_path), 0o600);
        assert_eq!(mode_of(&data_dir), 0o700);
        assert_eq!(
            fs::read_to_string(&public_path).unwrap(),
            first.public_key_pem()
        );

        let second = ServerKey::load_or_generate(&data_dir).unwrap();
        assert_eq!(second.fingerprint(), first.fingerprint());
    }

    #[cfg(unix)]
    #[test]
    fn readable_key_file_is_rejected() {
        use std::os::unix::fs::PermissionsExt as _;

        let dir = tempfile::tempdir().unwrap();
        let private_path = dir.path().join(PRIVATE_KEY_FILE);
        fs::write(&private_path, PKCS8_PEM).unwrap();

        for mode in [0o644, 0o640, 0o604, 0o620] {
            fs::set_permissions(&private_path, fs::Permissions::from_mode(mode)).unwrap();
            let error = ServerKey::load_or_generate(dir.path()).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidConfig, "mode {mode:o}");
            assert!(
                error
                    .message()
                    .contains(&private_path.display().to_string())
            );
            assert!(error.message().contains("chmod 600"), "{}", error.message());
        }

        fs::set_permissions(&private_path, fs::Permissions::from_mode(0o600)).unwrap();
        let key = ServerKey::load_or_generate(dir.path()).unwrap();
        assert_eq!(key.public_key_pem(), PUBLIC_PEM);
    }

    #[cfg(unix)]
    #[test]
    fn existing_pkcs1_key_file_loads() {
        use std::os::unix::fs::PermissionsExt as _;

        let dir = tempfile::tempdir().unwrap();
        let private_path = dir.path().join(PRIVATE_KEY_FILE);
        fs::write(&private_path, PKCS1_PEM).unwrap();
        fs::set_permissions(&private_path, fs::Permissions::from_mode(0o400)).unwrap();

        let key = ServerKey::load_or_generate(dir.path()).unwrap();
        let public = fs::read_to_string(dir.path().join(PUBLIC_KEY_FILE)).unwrap();
        assert_eq!(public, PUBLIC_PEM);
        assert_eq!(key.public_key_pem(), PUBLIC_PEM);
    }

    #[cfg(unix)]
    #[test]
    fn corrupt_key_file_names_path() {
        use std::os::unix::fs::PermissionsExt as _;

        let dir = tempfile::tempdir().unwrap();
        let private_path = dir.path().join(PRIVATE_KEY_FILE);
        fs::write(&private_path, "garbage").unwrap();
        fs::set_permissions(&private_path, fs::Permissions::from_mode(0o600)).unwrap();

        let error = ServerKey::load_or_generate(dir.path()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidConfig);
        assert!(
            error
                .message()
                .contains(&private_path.display().to_string())
        );
    }
}
