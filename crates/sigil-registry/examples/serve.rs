//! `cargo run --release -p sigil-registry --example serve -- ADDR ROOT`: the registry alone,
//! without the rest of the CLI (the benchmark builds this when the full `sigil` binary is not
//! at hand). Prints `listening on ADDR` like `sigil registry serve`.

use std::io::Write;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:0".into())
        .parse()?;
    let root = args.next().ok_or("usage: serve ADDR ROOT")?;
    let server = sigil_registry::Server::start(sigil_registry::Config::new(addr, root)).await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {}", server.local_addr())?;
    out.flush()?;
    drop(out);
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}
