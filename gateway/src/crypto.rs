//! Small cryptographic building blocks, each in one place so that every caller
//! gets the same choices: OS randomness for tokens and codes, HMAC-SHA-256 keyed
//! by the server key (code hashes, decoy hints, token hashes), XChaCha20-Poly1305
//! for secrets at rest (TOTP seeds), and constant-time comparison.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The server key. `Debug` never prints it.
#[derive(Clone)]
pub struct ServerKey {
    mac: Zeroizing<[u8; 32]>,
    seal: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey([REDACTED])")
    }
}

/// Why the server key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("secrets.key_file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}: must be 32 bytes, base64-encoded")]
    Malformed(&'static str),
}

impl ServerKey {
    /// Derive the purpose keys from 32 bytes of master key material.
    pub fn from_master(master: &[u8; 32]) -> Self {
        let derive = |label: &[u8]| {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master).expect("any key size");
            mac.update(label);
            let mut out = Zeroizing::new([0u8; 32]);
            out.copy_from_slice(&mac.finalize().into_bytes());
            out
        };
        Self {
            mac: derive(b"resetgate/mac/v1"),
            seal: derive(b"resetgate/seal/v1"),
        }
    }

    /// Decode a base64 master key given inline (`secrets.key`).
    pub fn from_base64(text: &str, key: &'static str) -> Result<Self, KeyError> {
        let bytes = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| KeyError::Malformed(key))?,
        );
        let master: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::Malformed(key))?;
        Ok(Self::from_master(&master))
    }

    /// Read the key file, creating it (mode 0600, 32 random bytes) when missing.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                warn_if_readable_by_others(path);
                Self::from_base64(&text, "secrets.key_file")
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    create_private_dir(dir).map_err(io)?;
                }
                let master = Zeroizing::new(random_bytes::<32>());
                write_private(path, STANDARD.encode(master.as_slice()).as_bytes()).map_err(io)?;
                Ok(Self::from_master(&master))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// HMAC-SHA-256 of `parts`, each length-prefixed so that ("ab","c") != ("a","bc").
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.mac.as_slice()).expect("32 bytes");
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// Encrypt `plain` (AEAD, random 192-bit nonce); `context` is bound as associated data.
    pub fn seal(&self, plain: &[u8], context: &[u8]) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new(self.seal.as_slice().into());
        let nonce = random_bytes::<24>();
        let payload = chacha20poly1305::aead::Payload {
            msg: plain,
            aad: context,
        };
        let mut out = nonce.to_vec();
        out.extend(
            cipher
                .encrypt(XNonce::from_slice(&nonce), payload)
                .expect("encryption of an in-memory buffer cannot fail"),
        );
        out
    }

    /// Decrypt what [`ServerKey::seal`] produced with the same `context`.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < 24 {
            return None;
        }
        let (nonce, body) = sealed.split_at(24);
        let cipher = XChaCha20Poly1305::new(self.seal.as_slice().into());
        let payload = chacha20poly1305::aead::Payload {
            msg: body,
            aad: context,
        };
        cipher
            .decrypt(XNonce::from_slice(nonce), payload)
            .ok()
            .map(Zeroizing::new)
    }
}

/// Create `dir` (and parents) readable by the owner only.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "the server key file is readable by other users; chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &Path) {}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// `N` bytes from a CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    // ThreadRng is a ChaCha CSPRNG seeded and periodically reseeded from the OS.
    let mut out = [0u8; N];
    rand::rng().fill_bytes(&mut out);
    out
}

/// A bearer token: 256 random bits, base64url without padding.
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// A one-time numeric code of `digits` digits, uniformly distributed.
pub fn random_code(digits: u32) -> String {
    let modulus = 10u64.pow(digits);
    // Rejection sampling: no modulo bias.
    let limit = u64::MAX - (u64::MAX % modulus);
    loop {
        let value = u64::from_be_bytes(random_bytes::<8>());
        if value < limit {
            return format!("{:0width$}", value % modulus, width = digits as usize);
        }
    }
}

/// SHA-256, hex-encoded: for looking up tokens without storing them.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Constant-time equality of two byte strings (length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_context_binding() {
        let key = ServerKey::from_master(&[7; 32]);
        let sealed = key.seal(b"totp-seed", b"factor:1");
        assert_eq!(
            key.open(&sealed, b"factor:1").unwrap().as_slice(),
            b"totp-seed"
        );
        assert!(key.open(&sealed, b"factor:2").is_none());
        assert!(key.open(&sealed[..10], b"factor:1").is_none());
    }

    #[test]
    fn mac_is_length_prefixed() {
        let key = ServerKey::from_master(&[1; 32]);
        assert_ne!(key.mac(&[b"ab", b"c"]), key.mac(&[b"a", b"bc"]));
    }

    #[test]
    fn codes_have_fixed_width() {
        for _ in 0..200 {
            let code = random_code(6);
            assert_eq!(code.len(), 6);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn key_file_is_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/key");
        let first = ServerKey::load_or_create(&path).unwrap();
        let second = ServerKey::load_or_create(&path).unwrap();
        assert_eq!(first.mac(&[b"x"]), second.mac(&[b"x"]));
        assert!(ServerKey::from_base64("short", "secrets.key").is_err());
    }

    #[test]
    fn ct_eq_works() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
