//! Running the registry on a socket: configuration, the exposure policy, TLS, the accept loop,
//! expiry of stale upload sessions, and a [`Server`] handle so other commands (`sigil up`)
//! embed the registry in their own process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::api::{handle, ApiLimits, AppState};
use crate::auth::Htpasswd;
use crate::fs::{FsStorage, StorageLimits};
use crate::metrics::Metrics;
use crate::storage::Storage;
use crate::Error;

/// How long a client may take to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Who may reach a registry bound to a non-loopback address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Exposure {
    /// Non-loopback binds need `--htpasswd` and TLS.
    #[default]
    AuthRequired,
    /// Serve anyone, in plain HTTP if no TLS is configured (`--insecure-public`).
    InsecurePublic,
}

/// A certificate chain and private key, both PEM.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Everything `sigil registry serve` takes.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen; port 0 picks a free port.
    pub addr: SocketAddr,
    /// The storage root.
    pub root: PathBuf,
    pub htpasswd: Option<PathBuf>,
    pub tls: Option<TlsFiles>,
    pub exposure: Exposure,
    pub api_limits: ApiLimits,
    pub storage_limits: StorageLimits,
    /// Upload sessions idle this long are removed.
    pub upload_ttl: Duration,
}

impl Config {
    /// Loopback-style defaults for `root`: anonymous, plain HTTP, default limits, sessions
    /// expire after an hour of inactivity.
    pub fn new(addr: SocketAddr, root: impl Into<PathBuf>) -> Config {
        Config {
            addr,
            root: root.into(),
            htpasswd: None,
            tls: None,
            exposure: Exposure::AuthRequired,
            api_limits: ApiLimits::default(),
            storage_limits: StorageLimits::default(),
            upload_ttl: Duration::from_secs(3600),
        }
    }

    /// Refuses a non-loopback bind without credentials and TLS unless the exposure is
    /// explicitly public. distribution binds wherever it is told; a registry that holds
    /// signatures should not be writable by the whole network by accident.
    pub fn check_exposure(&self) -> Result<(), Error> {
        if self.addr.ip().is_loopback() || self.exposure == Exposure::InsecurePublic {
            return Ok(());
        }
        if self.htpasswd.is_none() || self.tls.is_none() {
            return Err(Error::Config(format!(
                "refusing to serve {} without authentication and TLS: give --htpasswd, \
                 --tls-cert and --tls-key, bind 127.0.0.1, or pass --insecure-public",
                self.addr
            )));
        }
        Ok(())
    }
}

/// A running registry.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    scheme: &'static str,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    storage: Arc<FsStorage>,
}

impl Server {
    /// Checks the configuration, opens the storage, binds and starts serving in the
    /// background.
    pub async fn start(config: Config) -> Result<Server, Error> {
        config.check_exposure()?;
        let auth = match &config.htpasswd {
            Some(p) => Some(Arc::new(Htpasswd::load(p)?)),
            None => None,
        };
        let tls = match &config.tls {
            Some(t) => Some(tls_acceptor(t)?),
            None => None,
        };
        let root = config.root.clone();
        let limits = config.storage_limits;
        let storage = Arc::new(crate::fs::blocking(move || FsStorage::open(root, limits)).await?);
        let state = AppState {
            storage: storage.clone(),
            limits: config.api_limits,
            auth,
            metrics: Arc::new(Metrics::default()),
        };
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|e| Error::Config(format!("binding {}: {e}", config.addr)))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| Error::Config(format!("reading the bound address: {e}")))?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let (tx, rx) = oneshot::channel();
        let app = Arc::new(state);
        let expiry = spawn_expiry(storage.clone(), config.upload_ttl);
        let task = tokio::spawn(async move {
            accept_loop(listener, app, tls, rx).await;
            expiry.abort();
        });
        tracing::info!(addr = %local_addr, root = %config.root.display(), scheme, "registry serving");
        Ok(Server {
            local_addr,
            scheme,
            shutdown: Some(tx),
            task,
            storage,
        })
    }

    /// The bound address (with the real port when the config said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://ADDR` or `https://ADDR`.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.local_addr)
    }

    /// The storage the server uses.
    pub fn storage(&self) -> Arc<FsStorage> {
        self.storage.clone()
    }

    /// Stops accepting connections; requests in flight finish on their own.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Serves until the process ends.
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

/// Serves `config` until `shutdown` resolves.
pub async fn serve(
    config: Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), Error> {
    let server = Server::start(config).await?;
    shutdown.await;
    server.shutdown().await;
    Ok(())
}

fn spawn_expiry(storage: Arc<FsStorage>, ttl: Duration) -> JoinHandle<()> {
    let every = (ttl / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match storage.expire_uploads(ttl).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "removed stale upload sessions"),
                Err(e) => tracing::warn!(error = %e, "expiring upload sessions"),
            }
        }
    })
}

fn tls_acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, Error> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;
    let tls_err = |path: &PathBuf| {
        let path = path.clone();
        move |e: Box<dyn std::error::Error + Send + Sync>| Error::Tls { path, source: e }
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| tls_err(&files.cert)(Box::new(e)))?
        .collect::<Result<_, _>>()
        .map_err(|e| tls_err(&files.cert)(Box::new(e)))?;
    if certs.is_empty() {
        return Err(tls_err(&files.cert)("no CERTIFICATE block".into()));
    }
    let key =
        PrivateKeyDer::from_pem_file(&files.key).map_err(|e| tls_err(&files.key)(Box::new(e)))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(&files.cert)(Box::new(e)))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| tls_err(&files.key)(Box::new(e)))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}

async fn accept_loop(
    listener: TcpListener,
    app: Arc<AppState>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Small responses (manifests, 201s) must not wait for Nagle's algorithm.
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: hyper::Request<_>| {
                let app = app.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(
                        handle(&app, req.map(axum::body::Body::new)).await,
                    )
                }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            // A client that never finishes its request headers must not hold a connection
            // (and a file descriptor) forever.
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT);
            let result = match tls {
                None => {
                    builder
                        .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                        .await
                }
                Some(acceptor) => match acceptor.accept(tcp).await {
                    Ok(stream) => {
                        builder
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await
                    }
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                },
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
}
