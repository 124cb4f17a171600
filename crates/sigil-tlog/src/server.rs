//! Running the log on a socket: [`TlogServer`] is the handle `sigil tlog serve` and
//! `sigil up` hold; dropping it (or [`TlogServer::shutdown`]) stops the server.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::log::{Log, LogConfig};
use crate::{router, Error};

/// A running log server.
#[derive(Debug)]
pub struct TlogServer {
    addr: SocketAddr,
    log: Arc<Log>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TlogServer {
    /// Opens the log in `data_dir` and serves it on `addr` (port 0 picks a free port).
    pub async fn start(
        addr: SocketAddr,
        data_dir: &Path,
        config: LogConfig,
    ) -> Result<TlogServer, Error> {
        let dir = data_dir.to_owned();
        let log = tokio::task::spawn_blocking(move || Log::open(&dir, config))
            .await
            .map_err(|e| Error::Config(format!("opening the log panicked: {e}")))??;
        TlogServer::serve(addr, Arc::new(log)).await
    }

    /// Serves an already opened log on `addr`.
    pub async fn serve(addr: SocketAddr, log: Arc<Log>) -> Result<TlogServer, Error> {
        let listener = TcpListener::bind(addr).await.map_err(|e| Error::Io {
            what: format!("binding {addr}"),
            source: e,
        })?;
        let addr = listener.local_addr().map_err(|e| Error::Io {
            what: "reading the bound address".into(),
            source: e,
        })?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(log.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(TlogServer {
            addr,
            log,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn log(&self) -> &Arc<Log> {
        &self.log
    }

    /// Stops accepting connections and waits for open requests to finish.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await
                .map_err(|e| Error::Config(format!("server task failed: {e}")))?
                .map_err(|e| Error::Io {
                    what: "serving".into(),
                    source: e,
                })?;
        }
        Ok(())
    }

    /// Waits until the server stops (it only stops on error or shutdown).
    pub async fn wait(mut self) -> Result<(), Error> {
        if let Some(t) = self.task.take() {
            t.await
                .map_err(|e| Error::Config(format!("server task failed: {e}")))?
                .map_err(|e| Error::Io {
                    what: "serving".into(),
                    source: e,
                })?;
        }
        Ok(())
    }
}

impl Drop for TlogServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}
