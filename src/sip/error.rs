//! Errors returned by the endpoint's user-facing operations.

use thiserror::Error;

/// Why an operation on a call was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SipError {
    /// No such call (never existed, or already terminated).
    #[error("unknown call")]
    UnknownCall,
    /// The call is not in a state that allows the operation (e.g. answering twice).
    #[error("operation not allowed in the call's current state")]
    WrongState,
    /// `reject` needs a final non-2xx status (300..=699).
    #[error("invalid status code {0} for this operation")]
    InvalidStatus(u16),
}
