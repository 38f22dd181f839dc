//! `serve [--demo]`: run the gateway until SIGINT/SIGTERM.

use std::process::ExitCode;

use std::io::IsTerminal as _;

use anyhow::Context as _;

use crate::app::{self, BuildOptions};
use crate::config::{Config, LogFormat};

pub async fn run(config: Config, demo: bool) -> anyhow::Result<ExitCode> {
    init_tracing(config.log.format);
    let listen = config.server.listen;
    if demo && !listen.ip().is_loopback() {
        anyhow::bail!(
            "serve --demo shows SMS codes at /dev/outbox to anyone: it only listens on loopback, not {listen}"
        );
    }
    if config.sms.provider == crate::config::SmsProvider::Twilio
        && config.sms.twilio_from.is_none()
        && config.sms.twilio_messaging_service_sid.is_none()
    {
        tracing::warn!(
            "sms.provider = \"twilio\" without sms.twilio_from or sms.twilio_messaging_service_sid: \
             Twilio refuses messages without a sender (error 21603)"
        );
    }
    if !demo && config.sms.provider == crate::config::SmsProvider::Log {
        tracing::warn!(
            "sms.provider = \"log\": SMS codes are not delivered to anyone (development only)"
        );
    }
    let state = app::build(
        config,
        BuildOptions {
            demo,
            ..BuildOptions::default()
        },
    )
    .await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("server.listen {listen}"))?;
    let local = listener.local_addr()?;
    if demo {
        crate::demo::seed_and_print(&state, local).await?;
    }
    crate::webhooks::dispatch::spawn(state.clone());
    tracing::info!(address = %local, "resetgate listening");
    println!("resetgate listening on http://{local}");
    app::serve(listener, state, shutdown_signal()).await?;
    tracing::info!("resetgate stopped");
    Ok(ExitCode::SUCCESS)
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RESETGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        // The request's span (method, path, request_id) on every line.
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
