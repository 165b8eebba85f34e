//! Wiring: builds the store, Matrix client, links and bridge from a config and runs them.

use std::sync::Arc;

use crate::backend::Backend;
use crate::backend::gammu_spool::GammuSpoolBackend;
use crate::backend::hilink::HilinkBackend;
use crate::backend::modem::ModemBackend;
use crate::backend::smpp::SmppBackend;
use crate::backend::test::TestBackend;
use crate::bridge::Bridge;
use crate::config::{BackendConfig, BackendKind, Config, LogFormat};
use crate::matrix::HttpMatrix;
use crate::store::Store;

pub fn build_backends(config: &Config) -> Vec<Arc<dyn Backend>> {
    config.backends.iter().map(|b| build_backend(config, b)).collect()
}

pub fn build_backend(config: &Config, b: &BackendConfig) -> Arc<dyn Backend> {
    match &b.kind {
        BackendKind::Test(t) => Arc::new(TestBackend::new(&b.id, &b.number, t.clone())),
        BackendKind::Modem(m) => {
            Arc::new(ModemBackend::new(&b.id, &b.number, (**m).clone(), config.sms.split_options()))
        }
        BackendKind::Hilink(h) => {
            Arc::new(HilinkBackend::new(&b.id, &b.number, (**h).clone(), config.sms.split_options()))
        }
        BackendKind::GammuSpool(g) => {
            Arc::new(GammuSpoolBackend::new(&b.id, &b.number, (**g).clone(), config.sms.split_options().max_parts))
        }
        BackendKind::Smpp(s) => Arc::new(SmppBackend::new(&b.id, &b.number, (**s).clone(), config.sms.split_options())),
    }
}

pub fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.logging.level));
    use std::io::IsTerminal;
    // Colours only for a person at a terminal, not for `docker logs` or journald.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none());
    let _ = match config.logging.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// Runs the bridge until SIGINT or SIGTERM.
pub async fn run(config: Config) -> Result<(), String> {
    let store = Store::open(std::path::Path::new(&config.database.path)).map_err(|e| e.to_string())?;
    let matrix = Arc::new(HttpMatrix::new(&config.homeserver.address, &config.appservice.as_token));
    let backends = build_backends(&config);
    let addr = format!("{}:{}", config.appservice.hostname, config.appservice.port);
    let bridge = Bridge::new(config, store, matrix, backends);

    let listener =
        tokio::net::TcpListener::bind(&addr).await.map_err(|e| format!("appservice: cannot listen on {addr}: {e}"))?;
    tracing::info!(%addr, "appservice API listening");
    let app = crate::appservice::router(bridge.clone());
    let server =
        tokio::spawn(async move { axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await });

    // The gateway for applications, when configured: an address in use fails the start.
    let gateway = crate::api::start(bridge.clone(), shutdown_signal()).await?;
    let starting = bridge.clone();
    let started = tokio::spawn(async move { starting.start().await });
    tokio::select! {
        r = started => {
            let _tasks = r.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
            shutdown_signal().await;
        }
        _ = shutdown_signal() => {}
    }
    tracing::info!("shutting down");
    // The gateway saw the signal too: its requests under way finish first (at most 10 s).
    if let Some(mut g) = gateway
        && tokio::time::timeout(std::time::Duration::from_secs(10), &mut g).await.is_err()
    {
        g.abort();
    }
    for b in bridge.backends.values() {
        b.stop().await;
    }
    server.abort();
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
