//! Running the routers on a socket, so that `sigil ca serve`, `sigil oidc serve` and `sigil up`
//! (several services in one process) start them the same way.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::api::CaState;
use crate::authority::Authority;
use crate::config::CaConfig;
use crate::ct::{CtLog, CtSubmitter};
use crate::signer::{FileSigner, Signer};
use crate::verify::TokenVerifier;
use crate::Error;

/// A running server; dropping it does not stop it, [`ServerHandle::shutdown`] does.
#[derive(Debug)]
pub struct ServerHandle {
    pub local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl ServerHandle {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// Stops accepting, finishes in-flight requests, and waits.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }

    /// Waits until the server stops on its own (an I/O error).
    pub async fn wait(self) -> std::io::Result<()> {
        let _keep = self.stop;
        self.task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

/// Serves `router` on `listener` in a background task.
pub fn spawn(listener: TcpListener, router: Router) -> std::io::Result<ServerHandle> {
    let local_addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    Ok(ServerHandle {
        local_addr,
        stop: Some(stop),
        task,
    })
}

/// Opens the CA stored in `dir` with `config`: its chain, its embedded CT log (unless the
/// config names an external one) and its token verifier.
pub fn open_ca(dir: &Path, config: &CaConfig) -> Result<CaState, Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating directory", dir, e))?;
    let verifier = TokenVerifier::new(config)?;
    match &config.ct_log_url {
        Some(url) => {
            let client = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
            let authority = Authority::open(
                dir,
                CtSubmitter::Remote {
                    url: url.clone(),
                    client,
                },
            )?;
            Ok(CaState {
                authority: Arc::new(authority),
                verifier,
                ct_log: None,
            })
        }
        None => {
            // The CA's roots are created by Authority::open, but the log must exist first to be
            // handed to it: open the chain once without a log to learn the root, then the log.
            let ct_key: Arc<dyn Signer> = Arc::new(FileSigner::load_or_generate(
                &dir.join("ct").join("log.key"),
            )?);
            let root = crate::authority::ensure_chain(dir)?;
            let log = Arc::new(CtLog::open(&dir.join("ct"), ct_key, vec![root])?);
            let authority = Authority::open(dir, CtSubmitter::Embedded(log.clone()))?;
            Ok(CaState {
                authority: Arc::new(authority),
                verifier,
                ct_log: Some(log),
            })
        }
    }
}
