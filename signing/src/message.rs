//! Signatures over things other than components (for example audit checkpoints), made with the
//! same keys. Each kind signs under its own domain prefix, so a signature made for one kind never
//! verifies as another, nor as a component signature (whose messages start with `wasmsig`).

use crate::error::VerifyError;
use crate::keys::{PublicKey, SecretKey};

/// What a message signature is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A checkpoint of the tamper-evident audit log.
    AuditCheckpoint,
    /// An operator's approval of a proposal.
    Approval,
}

impl Purpose {
    /// The domain prefix prepended to the message before signing.
    pub fn domain(self) -> &'static [u8] {
        match self {
            Purpose::AuditCheckpoint => b"ward/audit-checkpoint/v1\0",
            Purpose::Approval => b"ward/approval/v1\0",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Purpose::AuditCheckpoint => "audit checkpoint",
            Purpose::Approval => "approval",
        }
    }
}

fn framed(purpose: Purpose, message: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(purpose.domain().len() + message.len());
    m.extend_from_slice(purpose.domain());
    m.extend_from_slice(message);
    m
}

/// Signs `message` for `purpose`.
pub fn sign_message(purpose: Purpose, message: &[u8], key: &SecretKey) -> [u8; 64] {
    key.sign_raw(&framed(purpose, message))
}

/// Verifies (strictly) a signature made by [`sign_message`] for the same purpose.
pub fn verify_message(
    purpose: Purpose,
    message: &[u8],
    signature: &[u8; 64],
    key: &PublicKey,
) -> Result<(), VerifyError> {
    if key.verify_strict(&framed(purpose, message), signature) {
        Ok(())
    } else {
        Err(VerifyError::BadMessageSignature(purpose.name()))
    }
}
