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
    /// Another process runs alert sinks on the same cursor directory: both would alert the same events.
    #[error("{} is locked by another alert process on the same cursor directory (both would send every alert): stop that one, or give this one its own out dir", path.display())]
    Locked { path: std::path::PathBuf },
    #[error("locking {}: {source}", path.display())]
    Lock { path: std::path::PathBuf, source: std::io::Error },
}
