//! The framework's ceiling: a bare axum server that answers `POST /v1/reset`
//! with a body of the same shape as the gateway's (`flow_id`, `status`,
//! `factors_required`, `options`, `expires_in`) and a device cookie, and does
//! nothing else: no store, no signals, no audit. The load driver
//! (`src/bin/load/main.rs`, `--scenario ceiling`) starts it as its own process,
//! like the gateway, and drives it with the same client code.
//!
//! ```sh
//! target/release/bare --listen 127.0.0.1:8090
//! ```
//!
//! The body parser is axum's `Json` (the gateway reads the body the same way);
//! the flow id is a fresh random 128-bit hex string, as a gateway flow id is.
//! The runtime is tokio's default multi-threaded one, as `resetgate serve`'s.

use std::net::SocketAddr;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

async fn start(Json(body): Json<Value>) -> (HeaderMap, Json<Value>) {
    let name = body
        .get("username")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let flow_id = format!("{:032x}", rand::random::<u128>());
    let mut headers = HeaderMap::new();
    headers.insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "rg_device=0123456789abcdef0123456789abcdef; Path=/; HttpOnly; SameSite=Lax; \
             Max-Age=31536000",
        ),
    );
    let hint = format!("•••-•••-••{:02}", name.len() % 100);
    (
        headers,
        Json(json!({
            "flow_id": flow_id,
            "status": "challenge",
            "factors_required": 1,
            "options": [{"factor": "sms", "hint": hint}],
            "expires_in": 600,
        })),
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut listen: SocketAddr = "127.0.0.1:8090".parse()?;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--listen" => {
                listen = args
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("--listen needs an address"))?
                    .parse()?;
            }
            other => anyhow::bail!("unknown option {other}; options: --listen ADDR"),
        }
    }
    let app = Router::new()
        .route("/v1/reset", post(start))
        .route("/readyz", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
