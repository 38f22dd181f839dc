//! The `resetgate` command line. Parsing only; the verbs live in `resetgate::cli`.

use std::process::ExitCode;

use clap::Parser;

/// jemalloc, whose background thread gives freed memory back to the system.
/// glibc's allocator kept a flood's worth: with every entry of a 970 MB
/// in-memory store expired and purged, the process stayed at 572 MB; with
/// jemalloc it fell to 23 MB within 14 s (bench/RESULTS.md, the flood).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
