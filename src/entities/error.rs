//! What the core-entity workflow answers when it refuses: its own error, which the HTTP
//! edge (`src/error.rs`) words once. The two envelopes of a refused write, Koko's
//! "validation error" and "data constraint error", are built here and nowhere else.

use crate::lua::runner::RunnerError;
use crate::schema::errors::{ErrorDetail, Errors, details};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EntityError {
    /// No such entity (in this scope); Koko answers with an empty message.
    #[error("not found")]
    NotFound,
    #[error("control plane not found")]
    ControlPlaneNotFound,
    /// A named thing the request refers to is missing (Kong's `Consumer 'x' not found`).
    #[error("{0}")]
    Missing(String),
    /// The request would repeat what exists (Kong's 409 `already in group`).
    #[error("{0}")]
    Conflict(String),
    /// The request itself is unusable (not an object, a path id that is not a UUID).
    #[error("{0}")]
    BadRequest(String),
    /// Koko's "validation error": the entity breaks its schema or a rule of its kind.
    #[error("validation error")]
    Invalid(Vec<ErrorDetail>),
    /// Koko's "data constraint error": the write clashes with what is stored.
    #[error("data constraint error")]
    Constraint(Vec<ErrorDetail>),
    /// Every Lua worker is busy; the client may retry.
    #[error("{0}")]
    LuaBusy(RunnerError),
    /// A Lua evaluation failed unexpectedly.
    #[error(transparent)]
    LuaCrashed(RunnerError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl EntityError {
    /// A "validation error" of one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        EntityError::Invalid(vec![ErrorDetail::field(field, message)])
    }

    /// A "validation error" of everything the schema found.
    pub fn schema(errors: &Errors) -> Self {
        EntityError::Invalid(details(errors))
    }

    /// A "data constraint error" of one clash.
    pub fn constraint(detail: ErrorDetail) -> Self {
        EntityError::Constraint(vec![detail])
    }
}

/// The one reading of the Lua pool's failures, for every caller of `LuaRunner::run`.
impl From<RunnerError> for EntityError {
    fn from(e: RunnerError) -> Self {
        match e {
            RunnerError::Busy => EntityError::LuaBusy(e),
            RunnerError::Crashed => EntityError::LuaCrashed(e),
        }
    }
}
