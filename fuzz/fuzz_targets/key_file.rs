//! Key files: public keys in every format ward reads (`PublicKey::parse`, the OpenSSH line) and
//! ward secret key files without a passphrase (an encrypted one must ask for it, not decrypt).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_signing::{KeyError, PublicKey, SecretKey};

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = PublicKey::parse(data) {
        // Every accepted key reads back from each form ward writes.
        assert_eq!(
            PublicKey::parse(key.to_openssh().as_bytes())
                .ok()
                .map(|k| k.to_bytes()),
            Some(key.to_bytes())
        );
        assert_eq!(
            PublicKey::parse(&key.to_wasmsign2_bytes())
                .ok()
                .map(|k| k.to_bytes()),
            Some(key.to_bytes())
        );
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = PublicKey::from_openssh(text);
    }
    let encrypted = SecretKey::is_encrypted(data);
    match SecretKey::from_file_contents(data, None) {
        Ok(key) => {
            assert_eq!(
                encrypted.ok(),
                Some(false),
                "decrypted without a passphrase"
            );
            let _ = key.public_key().key_id();
        }
        Err(KeyError::PassphraseRequired) => {
            assert_eq!(
                encrypted.ok(),
                Some(true),
                "asked for a passphrase it does not need"
            );
        }
        Err(_) => {}
    }
});
