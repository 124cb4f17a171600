//! The webhook server: AdmissionReview over HTTPS (rustls with ring) at Kyverno's paths,
//! `/metrics`, `/healthz`, `/readyz`, and policy reload when the files change.
//!
//! # Defaults
//! - HTTPS only; HTTP/1.1 (the apiserver's webhook client speaks it).
//! - Bodies over 3 MiB (the apiserver's own request limit) are refused with 413; a
//!   content type other than `application/json` with 415 (as Kyverno); a body that is not
//!   an AdmissionReview with 400.
//! - Verification deadline 8 s, below the 10 s `timeoutSeconds` of the generated webhook
//!   configurations, so a slow registry yields our refusal, not the apiserver's timeout.
//! - Policy files are polled every 2 s (mtime and size); a reload that fails keeps the
//!   previous policies and is logged. Polling rather than inotify: ConfigMap volumes
//!   update through symlink swaps that inotify watchers commonly miss.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::engine::{Engine, Phase};
use crate::metrics::Metrics;
use crate::policy::{load_policies, policy_files};
use crate::review::{parse_review, review_response_bytes};
use crate::Error;

/// Shared by every request.
#[derive(Debug)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub metrics: Metrics,
    pub ready: AtomicBool,
}

impl AppState {
    pub fn new(engine: Arc<Engine>) -> Arc<AppState> {
        Arc::new(AppState {
            engine,
            metrics: Metrics::default(),
            ready: AtomicBool::new(true),
        })
    }
}

/// Largest AdmissionReview accepted.
pub const MAX_BODY: usize = 3 << 20;

/// The webhook's routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/mutate", post(mutate))
        .route("/mutate/fail", post(mutate))
        .route("/mutate/ignore", post(mutate))
        .route("/validate", post(validate))
        .route("/validate/fail", post(validate))
        .route("/validate/ignore", post(validate))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

async fn mutate(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    review(s, headers, body, Phase::Mutate).await
}

async fn validate(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    review(s, headers, body, Phase::Validate).await
}

async fn review(s: Arc<AppState>, headers: HeaderMap, body: Bytes, phase: Phase) -> Response {
    let start = Instant::now();
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        s.metrics.bad_request();
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("invalid Content-Type `{ct}`, expected `application/json`"),
        )
            .into_response();
    }
    let (api, req) = match parse_review(&body) {
        Ok(r) => r,
        Err(e) => {
            s.metrics.bad_request();
            return (
                StatusCode::BAD_REQUEST,
                format!("not an AdmissionReview: {e}"),
            )
                .into_response();
        }
    };
    let uid = req.uid.clone();
    let ev = s.engine.evaluate(&req.into_engine_request(), phase).await;
    for r in ev
        .results
        .iter()
        .filter(|r| r.status != crate::RuleStatus::Pass)
    {
        tracing::info!(uid = %uid, policy = %r.policy, rule = %r.rule, status = r.status.as_str(), message = %r.message, "image verification");
    }
    s.metrics.record(&ev, start.elapsed());
    let answer = review_response_bytes(&api, &uid, &ev);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        answer,
    )
        .into_response()
}

async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    let v = &s.engine.verifier;
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(&v.stats, v.cached_verdicts()),
    )
        .into_response()
}

async fn readyz(State(s): State<Arc<AppState>>) -> Response {
    if s.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "policies not loaded").into_response()
    }
}

/// Where the serving certificate comes from.
#[derive(Clone, Debug)]
pub struct TlsSource {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub addr: String,
    pub tls: TlsSource,
    /// Policy file or directory to watch (`None`: no reload).
    pub policy_path: Option<PathBuf>,
    pub reload_interval: Duration,
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    reload: Option<JoinHandle<()>>,
}

impl Server {
    /// Runs until the task ends (it does not on its own).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }

    pub async fn shutdown(mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(r) = self.reload.take() {
            r.abort();
        }
        let _ = (&mut self.task).await;
    }
}

/// Binds `opts.addr` and serves `state` over TLS.
pub async fn serve(state: Arc<AppState>, opts: ServeOptions) -> Result<Server, Error> {
    let acceptor = tls_acceptor(&opts.tls)?;
    let listener = TcpListener::bind(&opts.addr)
        .await
        .map_err(|e| Error::Bind {
            addr: opts.addr.clone(),
            source: e,
        })?;
    let addr = listener.local_addr().map_err(|e| Error::Bind {
        addr: opts.addr.clone(),
        source: e,
    })?;
    let reload = opts
        .policy_path
        .clone()
        .map(|p| tokio::spawn(reload_loop(state.clone(), p, opts.reload_interval)));
    let (tx, rx) = oneshot::channel();
    let app = router(state);
    let task = tokio::spawn(accept_loop(listener, app, acceptor, rx));
    Ok(Server {
        addr,
        shutdown: Some(tx),
        task,
        reload,
    })
}

fn stamp(path: &std::path::Path) -> Vec<(PathBuf, Option<SystemTime>, u64)> {
    policy_files(path)
        .unwrap_or_default()
        .into_iter()
        .map(|f| {
            let m = std::fs::metadata(&f).ok();
            let t = m.as_ref().and_then(|m| m.modified().ok());
            let len = m.map(|m| m.len()).unwrap_or(0);
            (f, t, len)
        })
        .collect()
}

async fn reload_loop(state: Arc<AppState>, path: PathBuf, every: Duration) {
    let mut last = stamp(&path);
    loop {
        tokio::time::sleep(every).await;
        let now = stamp(&path);
        if now == last {
            continue;
        }
        last = now;
        match load_policies(&path) {
            Ok(set) => {
                tracing::info!(policies = set.policies.len(), path = %path.display(), "policies reloaded");
                state.engine.set_policies(set.policies);
            }
            Err(e) => {
                tracing::warn!(error = %e, path = %path.display(), "policy reload failed; keeping the previous policies")
            }
        }
    }
}

fn tls_acceptor(files: &TlsSource) -> Result<tokio_rustls::TlsAcceptor, Error> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;
    let err = |p: &PathBuf, e: &dyn std::fmt::Display| Error::Tls {
        detail: format!("`{}`: {e}", p.display()),
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| err(&files.cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| err(&files.cert, &e))?;
    if certs.is_empty() {
        return Err(err(&files.cert, &"no CERTIFICATE block"));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| err(&files.key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(&files.cert, &e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| err(&files.key, &e))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}

async fn accept_loop(
    listener: TcpListener,
    app: Router,
    tls: tokio_rustls::TlsAcceptor,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            // A client that never finishes its handshake must not hold a task forever.
            let stream = match tokio::time::timeout(Duration::from_secs(10), tls.accept(tcp)).await
            {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
}
