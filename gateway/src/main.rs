//! The `resetgate` command line. Parsing only; the verbs live in `resetgate::cli`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = resetgate::cli::Cli::parse();
    // One TLS provider for every rustls user (LDAP, SMTP, webhooks, Redis),
    // chosen here rather than left to whichever crate asks first.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(resetgate::cli::run(cli))
}
