//! Optional bearer-token authentication of the gRPC services. A server with a token answers only
//! requests carrying `authorization: Bearer <token>` (compared in constant time) and gives every other
//! request `UNAUTHENTICATED`; a client with a token attaches it to every request. The token comes from
//! the environment variable named by config (`*_env`), never from config itself.

use std::sync::Arc;

use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// Why a token could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("environment variable {0} (named by grpc_token_env) is not set or empty; set it, or leave grpc_token_env empty for no authentication")]
    Unset(String),
    #[error("the token in {0} is not a valid header value (printable ASCII only)")]
    Invalid(String),
}

/// Reads the token from the env variable `var` via `lookup`. An empty `var` means no authentication.
///
/// # Errors
/// [`AuthError::Unset`] when `var` is named but unset or empty.
pub fn token_from_env(var: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Option<String>, AuthError> {
    let var = var.trim();
    if var.is_empty() {
        return Ok(None);
    }
    lookup(var).filter(|t| !t.is_empty()).map(Some).ok_or_else(|| AuthError::Unset(var.to_owned()))
}

pub use nl_domain::secret::constant_time_eq;

/// Server side: checks `authorization: Bearer <token>` when a token is configured.
#[derive(Clone, Default)]
pub struct RequireBearer {
    expected: Option<Arc<str>>,
}

impl std::fmt::Debug for RequireBearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireBearer").field("enabled", &self.expected.is_some()).finish()
    }
}

impl RequireBearer {
    /// Requires `token` when `Some`; lets everything through when `None`.
    #[must_use]
    pub fn new(token: Option<String>) -> Self {
        Self { expected: token.map(Arc::from) }
    }
}

impl Interceptor for RequireBearer {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.expected else { return Ok(req) };
        let presented = req.metadata().get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
        if constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
            Ok(req)
        } else {
            Err(Status::unauthenticated("missing or wrong bearer token (authorization: Bearer <token>)"))
        }
    }
}

/// Client side: attaches `authorization: Bearer <token>` when a token is configured.
#[derive(Clone, Default)]
pub struct AttachBearer {
    value: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl std::fmt::Debug for AttachBearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachBearer").field("enabled", &self.value.is_some()).finish()
    }
}

impl AttachBearer {
    /// Attaches `token` when `Some`. `var` names its env variable, for the error.
    ///
    /// # Errors
    /// [`AuthError::Invalid`] when the token cannot be a header value.
    pub fn new(token: Option<&str>, var: &str) -> Result<Self, AuthError> {
        let value = token.map(|t| format!("Bearer {t}").parse().map_err(|_| AuthError::Invalid(var.to_owned()))).transpose()?;
        Ok(Self { value })
    }
}

impl Interceptor for AttachBearer {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if let Some(v) = &self.value {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn with_header(v: Option<&str>) -> Request<()> {
        let mut r = Request::new(());
        if let Some(v) = v {
            r.metadata_mut().insert("authorization", v.parse().unwrap());
        }
        r
    }

    #[test]
    fn require_bearer_accepts_only_the_token() {
        let mut auth = RequireBearer::new(Some("s3cret".into()));
        assert!(auth.call(with_header(Some("Bearer s3cret"))).is_ok());
        for bad in [None, Some("Bearer s3cre"), Some("Bearer s3cret2"), Some("s3cret"), Some("Basic s3cret")] {
            assert_eq!(auth.call(with_header(bad)).unwrap_err().code(), tonic::Code::Unauthenticated, "{bad:?}");
        }
        assert!(RequireBearer::new(None).call(with_header(None)).is_ok());
    }

    #[test]
    fn attach_then_require_round_trips() {
        let mut attach = AttachBearer::new(Some("tok-1"), "V").unwrap();
        assert!(RequireBearer::new(Some("tok-1".into())).call(attach.call(Request::new(())).unwrap()).is_ok());
        assert!(matches!(AttachBearer::new(Some("bad\ntoken"), "V"), Err(AuthError::Invalid(_))));
    }

    #[test]
    fn token_from_env_needs_the_variable_when_named() {
        assert_eq!(token_from_env("", |_| None).unwrap(), None);
        assert!(matches!(token_from_env("NL_T", |_| None), Err(AuthError::Unset(v)) if v == "NL_T"));
        assert!(matches!(token_from_env("NL_T", |_| Some(String::new())), Err(AuthError::Unset(_))));
        assert_eq!(token_from_env("NL_T", |_| Some("x".into())).unwrap().as_deref(), Some("x"));
        assert!(!format!("{:?}", RequireBearer::new(Some("s3cret".into()))).contains("s3cret"));
    }
}
