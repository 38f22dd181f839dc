//! Command-line verbs. Each prints what a person needs and exits non-zero with
//! the exact problem when something is wrong.

pub mod admin;
mod audit;
mod evaluate;
mod generate;
pub mod geo;
mod serve;
pub mod simulate;
mod train;
pub mod users;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;

/// resetgate: adaptive-risk self-service password reset.
#[derive(Debug, Parser)]
#[command(name = "resetgate", version, about)]
pub struct Cli {
    /// Configuration file (TOML); without it the embedded defaults apply.
    #[arg(long, global = true, value_name = "FILE", env = "RESETGATE_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub verb: Verb,
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Run the gateway.
    Serve {
        /// Seed demo users with enrolled factors and print how to try a reset.
        #[arg(long)]
        demo: bool,
    },
    /// Validate the configuration, policy and password lists.
    CheckConfig,
    /// Risk policy tools.
    Policy {
        #[command(subcommand)]
        verb: PolicyVerb,
    },
    /// Replay recorded attempts under a candidate policy; print the decision-shift table.
    Simulate {
        /// The candidate policy file.
        #[arg(long, value_name = "FILE")]
        policy: PathBuf,
        /// A candidate anomaly model (`train --out`): its score replaces the recorded one.
        #[arg(long, value_name = "FILE")]
        model: Option<PathBuf>,
        /// Only the attempts of the last N days (default: every one on record).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=3660))]
        days: Option<u32>,
        /// An `audit export` file (JSON lines); default: the configured durable store.
        #[arg(long, value_name = "AUDIT_EXPORT")]
        from: Option<PathBuf>,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        verb: AuditVerb,
    },
    /// Built-in directory tools.
    Users {
        #[command(subcommand)]
        verb: UsersVerb,
    },
    /// Administrators of the admin API.
    Admin {
        #[command(subcommand)]
        verb: AdminVerb,
    },
    /// Geo tools: build .mmdb databases from CSV, look an address up.
    Geo {
        #[command(subcommand)]
        verb: geo::GeoVerb,
    },
    /// Write seeded synthetic reset/sign-in traffic (labelled attacks) as an attempts CSV.
    Generate(generate::GenerateArgs),
    /// Train the anomaly model on attempts (the project's CSV or the RBA dataset's).
    Train(train::TrainArgs),
    /// Replay history, then score attempts with the served decision: ROC AUC,
    /// TPR at fixed FPR, legitimate step-up rates, per-row scores, ROC plot.
    Evaluate(evaluate::EvaluateArgs),
}

#[derive(Debug, Subcommand)]
pub enum PolicyVerb {
    /// Validate a risk policy file.
    Validate { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum AuditVerb {
    /// Check the hash chain; exits 1 at the first broken record.
    Verify,
    /// Print every record as a JSON line.
    Export,
}

#[derive(Debug, Subcommand)]
pub enum UsersVerb {
    /// Seed the built-in directory from CSV: header `username,password,email,phone`.
    Import { csv: PathBuf },
    /// Lift the lock the owner put on an account's resets with a "this wasn't
    /// me" link (audited as `account.unlocked`).
    Unlock { username: String },
}

#[derive(Debug, Subcommand)]
pub enum AdminVerb {
    /// Create an administrator: the password is read from standard input;
    /// prints the TOTP secret and `otpauth://` URI of the second factor, once.
    Create { name: String },
    /// Disable an administrator: sign-in is refused and every session of
    /// theirs stops working at its next request.
    Disable { name: String },
    /// Enable a disabled administrator again.
    Enable { name: String },
    /// Remove every passkey of an administrator (a lost or stolen
    /// authenticator); sign-in with the TOTP code stays.
    #[command(name = "remove-passkeys")]
    RemovePasskeys { name: String },
    /// API keys for machine clients (scopes: evaluate, read, admin).
    #[command(name = "api-key", subcommand)]
    ApiKey(ApiKeyVerb),
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyVerb {
    /// Make a key; it is printed once.
    Create {
        /// What the key is for (letters, digits, '-', '_', '.').
        name: String,
        /// A scope: evaluate, read or admin (repeat for several).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
    },
    /// List the keys (never the keys themselves).
    List,
    /// Revoke a key by its id; it is refused at once.
    Revoke { id: String },
}

/// Run a parsed command line.
pub async fn run(cli: Cli) -> ExitCode {
    let result = match cli.verb {
        Verb::Policy {
            verb: PolicyVerb::Validate { file },
        } => policy_validate(&file),
        Verb::Geo { verb } => geo::run(verb, cli.config.as_deref()),
        verb => match Config::load(cli.config.as_deref()) {
            Err(e) => Err(anyhow::anyhow!("configuration: {e}")),
            Ok(config) => match verb {
                // The generator reads no setting; the config is still checked.
                Verb::Generate(args) => generate::run(&args),
                Verb::Train(args) => train::run(&config, &args).await,
                Verb::Evaluate(args) => evaluate::run(&config, &args).await,
                Verb::Serve { demo } => serve::run(config, demo).await,
                Verb::CheckConfig => check_config(&config),
                Verb::Simulate {
                    policy,
                    model,
                    days,
                    from,
                } => simulate::run(&config, &policy, model.as_deref(), days, from.as_deref()).await,
                Verb::Audit {
                    verb: AuditVerb::Verify,
                } => audit::verify(&config).await,
                Verb::Audit {
                    verb: AuditVerb::Export,
                } => audit::export(&config).await,
                Verb::Users {
                    verb: UsersVerb::Import { csv },
                } => users::import(&config, &csv).await,
                Verb::Users {
                    verb: UsersVerb::Unlock { username },
                } => users::unlock(&config, &username).await,
                Verb::Admin {
                    verb: AdminVerb::Create { name },
                } => admin::create(&config, &name).await,
                Verb::Admin {
                    verb: AdminVerb::Disable { name },
                } => admin::set_disabled(&config, &name, true).await,
                Verb::Admin {
                    verb: AdminVerb::Enable { name },
                } => admin::set_disabled(&config, &name, false).await,
                Verb::Admin {
                    verb: AdminVerb::ApiKey(verb),
                } => admin::api_key(&config, verb).await,
                Verb::Admin {
                    verb: AdminVerb::RemovePasskeys { name },
                } => admin::remove_passkeys(&config, &name).await,
                Verb::Policy { .. } | Verb::Geo { .. } => {
                    unreachable!("handled above")
                }
            },
        },
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn policy_validate(file: &std::path::Path) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    match risk::Policy::parse(&text) {
        Ok(policy) => {
            println!(
                "policy OK: {} (version {})",
                file.display(),
                policy.version()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("policy invalid: {}: {e}", file.display());
            Ok(ExitCode::FAILURE)
        }
    }
}

fn check_config(config: &Config) -> anyhow::Result<ExitCode> {
    let policy = crate::app::load_policy(config)?;
    let model = crate::app::load_model(config)?;
    if config.secrets.key.is_some() || config.secrets.key_file.exists() {
        crate::app::load_key(config)?;
    }
    crate::app::load_passwords(config)?;
    let geo = geo::open_configured(config)?;
    println!("configuration OK");
    println!("  listen          {}", config.server.listen);
    println!("  public_url      {}", config.server.public_url);
    println!(
        "  store           ephemeral={} durable={}",
        crate::app::redacted(&config.store.ephemeral),
        crate::app::redacted(&config.store.durable)
    );
    println!("  risk policy     version {}", policy.version());
    println!(
        "  anomaly model   version {} ({})",
        model.version(),
        config
            .models
            .anomaly
            .as_ref()
            .map_or_else(|| "bundled".to_owned(), |p| p.display().to_string())
    );
    println!("  sms provider    {:?}", config.sms.provider);
    if config.sms.provider == crate::config::SmsProvider::Twilio
        && config.sms.twilio_from.is_none()
        && config.sms.twilio_messaging_service_sid.is_none()
    {
        eprintln!(
            "warning: sms.twilio_from and sms.twilio_messaging_service_sid are both unset: \
             Twilio refuses messages without a sender"
        );
    }
    for line in geo::describe(&geo) {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}
