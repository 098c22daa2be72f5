//! Errors of the web service.

/// Why the dashboard could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("invalid web config: {0}")]
    Config(String),
    #[error("binding {addr}: {source}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("serving: {0}")]
    Serve(#[from] std::io::Error),
}
