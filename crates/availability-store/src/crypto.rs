//! Credentials at rest: AES-256-GCM (ring) with a fresh random 96-bit nonce per write, and a key
//! id stored beside each ciphertext so keys can rotate (old keys decrypt, the current one
//! encrypts). The additional authenticated data binds a ciphertext to its expert and integration,
//! so a ciphertext copied to another row is refused like a tampered one.
//!
//! Stored form: `v1:<key id>:<base64(nonce || ciphertext || tag)>`; the key id is the first 8 bytes
//! of SHA-256(key), hex encoded (it identifies a key without revealing it).

use std::fmt;

use availability_domain::Secret;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};

/// Why a key could not be used or a ciphertext not opened. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The key is not 32 bytes of hex (64 characters) or base64.
    #[error("{0}: expected 32 bytes as 64 hex characters or base64")]
    BadKey(&'static str),
    /// Storing a credential needs ENCRYPTION_KEY.
    #[error("ENCRYPTION_KEY is not set: it is required to store credentials")]
    NoKey,
    /// The ciphertext names a key that is neither ENCRYPTION_KEY nor in ENCRYPTION_OLD_KEYS.
    #[error("the credential was encrypted with key {0}, which is not configured")]
    UnknownKey(String),
    /// Tampered, truncated or foreign ciphertext, or not one of ours at all.
    #[error("the credential cannot be decrypted: it was altered or belongs elsewhere")]
    Corrupt,
}

/// One AES-256 key with its id.
struct Key {
    id: String,
    key: LessSafeKey,
}

impl Key {
    fn parse(text: &str, setting: &'static str) -> Result<Self, CryptoError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|_| CryptoError::BadKey(setting))?
        } else {
            STANDARD
                .decode(text)
                .or_else(|_| URL_SAFE.decode(text))
                .map_err(|_| CryptoError::BadKey(setting))?
        };
        if bytes.len() != 32 {
            return Err(CryptoError::BadKey(setting));
        }
        let id = hex::encode(&digest::digest(&digest::SHA256, &bytes).as_ref()[..8]);
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| CryptoError::BadKey(setting))?);
        Ok(Self { id, key })
    }
}

/// The configured keys: the current one (encrypts and decrypts) and earlier ones (decrypt only).
pub struct Keyring {
    current: Option<Key>,
    old: Vec<Key>,
    rng: SystemRandom,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current.as_ref().map(|k| &k.id))
            .field("old", &self.old.iter().map(|k| &k.id).collect::<Vec<_>>())
            .finish()
    }
}

impl Keyring {
    /// From ENCRYPTION_KEY (optional until a credential is stored) and ENCRYPTION_OLD_KEYS
    /// (comma-separated).
    pub fn new(current: Option<&str>, old: &str) -> Result<Self, CryptoError> {
        let current = current.map(|k| Key::parse(k, "ENCRYPTION_KEY")).transpose()?;
        let old = old
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|k| Key::parse(k, "ENCRYPTION_OLD_KEYS"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            current,
            old,
            rng: SystemRandom::new(),
        })
    }

    /// A keyring with no key: reading and writing credentials fails clearly.
    pub fn empty() -> Self {
        Self {
            current: None,
            old: Vec::new(),
            rng: SystemRandom::new(),
        }
    }

    /// A fixed key for tests and the explicit demo mode. Never for real credentials.
    pub fn for_testing() -> Self {
        // 32 bytes of 0x42: recognisable, and only ever used where the data is not real.
        Self::new(Some(&"42".repeat(32)), "").unwrap_or_else(|_| Self::empty())
    }

    /// Whether a current key is configured.
    pub fn can_encrypt(&self) -> bool {
        self.current.is_some()
    }

    /// The id of the current key.
    pub fn current_key_id(&self) -> Option<&str> {
        self.current.as_ref().map(|k| k.id.as_str())
    }

    /// Encrypts with the current key and a fresh random nonce.
    pub fn encrypt(&self, plaintext: &[u8], context: &str) -> Result<String, CryptoError> {
        let key = self.current.as_ref().ok_or(CryptoError::NoKey)?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| CryptoError::Corrupt)?;
        let mut sealed = plaintext.to_vec();
        key.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| CryptoError::Corrupt)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("v1:{}:{}", key.id, STANDARD.encode(out)))
    }

    /// Decrypts a stored value; any alteration, a foreign context or an unknown key is an error.
    pub fn decrypt(&self, stored: &str, context: &str) -> Result<Secret<Vec<u8>>, CryptoError> {
        let mut parts = stored.splitn(3, ':');
        let (Some("v1"), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CryptoError::Corrupt);
        };
        let key = self
            .current
            .iter()
            .chain(&self.old)
            .find(|k| k.id == id)
            .ok_or_else(|| CryptoError::UnknownKey(id.to_owned()))?;
        let raw = STANDARD.decode(body).map_err(|_| CryptoError::Corrupt)?;
        if raw.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(CryptoError::Corrupt);
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Corrupt)?;
        let mut sealed = sealed.to_vec();
        let plain = key
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut sealed)
            .map_err(|_| CryptoError::Corrupt)?;
        Ok(Secret::new(plain.to_vec()))
    }

    /// Whether a stored value is under a key other than the current one.
    pub fn is_stale(&self, stored: &str) -> bool {
        match (self.current_key_id(), stored.split(':').nth(1)) {
            (Some(current), Some(id)) => current != id,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn round_trip_with_fresh_nonces() {
        let ring = Keyring::new(Some(K1), "").unwrap();
        let a = ring.encrypt(b"ya29.secret", "expert:1:some_calendar").unwrap();
        let b = ring.encrypt(b"ya29.secret", "expert:1:some_calendar").unwrap();
        assert_ne!(a, b, "a fresh nonce per write");
        assert!(!a.contains("ya29"));
        assert_eq!(
            ring.decrypt(&a, "expert:1:some_calendar").unwrap().expose(),
            b"ya29.secret"
        );
    }

    #[test]
    fn tampered_foreign_or_unknown_ciphertext_is_an_error() {
        let ring = Keyring::new(Some(K1), "").unwrap();
        let sealed = ring.encrypt(b"token", "expert:1:some_calendar").unwrap();
        assert_eq!(
            ring.decrypt(&sealed, "expert:2:some_calendar").unwrap_err(),
            CryptoError::Corrupt
        );
        let mut raw = STANDARD.decode(sealed.rsplit(':').next().unwrap()).unwrap();
        for i in 0..raw.len() {
            raw[i] ^= 1;
            let flipped = format!("v1:{}:{}", ring.current_key_id().unwrap(), STANDARD.encode(&raw));
            assert_eq!(
                ring.decrypt(&flipped, "expert:1:some_calendar").unwrap_err(),
                CryptoError::Corrupt,
                "byte {i}"
            );
            raw[i] ^= 1;
        }
        let other = Keyring::new(Some(&STANDARD.encode([7u8; 32])), "").unwrap();
        assert!(matches!(
            other.decrypt(&sealed, "expert:1:some_calendar"),
            Err(CryptoError::UnknownKey(_))
        ));
        for junk in ["", "v1", "v1:x", "v2:a:b", "v1:abc:!!!", "plain text"] {
            assert!(ring.decrypt(junk, "c").is_err(), "{junk}");
        }
    }

    #[test]
    fn old_keys_decrypt_and_the_current_one_encrypts() {
        let old = Keyring::new(Some(K1), "").unwrap();
        let sealed = old.encrypt(b"refresh", "ctx").unwrap();
        let new_key = STANDARD.encode([9u8; 32]);
        let rotated = Keyring::new(Some(&new_key), K1).unwrap();
        assert!(rotated.is_stale(&sealed));
        assert_eq!(rotated.decrypt(&sealed, "ctx").unwrap().expose(), b"refresh");
        let resealed = rotated.encrypt(b"refresh", "ctx").unwrap();
        assert!(!rotated.is_stale(&resealed));
    }

    #[test]
    fn bad_keys_are_refused_without_echoing_them() {
        for bad in ["short", "zz", &"0".repeat(63)] {
            let err = Keyring::new(Some(bad), "").unwrap_err();
            assert!(!err.to_string().contains(bad) || bad.len() < 3);
        }
        assert_eq!(Keyring::empty().encrypt(b"x", "c").unwrap_err(), CryptoError::NoKey);
        assert!(!format!("{:?}", Keyring::new(Some(K1), "").unwrap()).contains(K1));
    }
}
