//! The reset flow's operations against the stores: start, challenge, verify,
//! status. Completion is the reset core's (`reset_core`).
//!
//! Known and unknown accounts take the same path with the same store calls, so
//! that neither the answer nor its timing tells them apart: an unknown (or
//! disabled) account gets a decoy flow whose factors and hints derive from a
//! keyed MAC of the name (stable per name) and which can never verify.

use std::time::Duration;

use axum::http::StatusCode;
use risk::{Factor, Level, Signals};
use serde_json::json;

use super::{Flow, FlowOption, PendingCode, Progress, State};
use crate::account::AccountName;
use crate::app::AppState;
use crate::audit::AuditEvent;
use crate::crypto;
use crate::directory;
use crate::factors::webauthn::{self, Assertion};
use crate::factors::{self, sms, totp};
use crate::http::client::Client;
use crate::http::client_addr::bucket;
use crate::http::error::{ApiError, ApiResult};
use crate::signals::account;
use crate::signals::context::Context;
use crate::signals::velocity;
use crate::store::durable::{AttemptQuery, AttemptReads};
use crate::store::ephemeral::keys;
use crate::webhooks::{Event, alerts, ocsf};

/// Codes sent to one account per hour and per day, across flows.
const MAX_SENDS_PER_HOUR: u64 = 5;
const MAX_SENDS_PER_DAY: u64 = 10;

/// How long an expired flow is remembered so that it answers 410, not 404.
const EXPIRED_GRACE: Duration = Duration::from_hours(1);

/// What a challenge did.
pub enum Challenged {
    /// A code was sent; it expires in this many seconds.
    Sent { expires_in: u64 },
    /// Nothing to send: the code comes from the person's authenticator.
    NoChallengeNeeded,
    /// WebAuthn: the `PublicKeyCredentialRequestOptions` for the browser.
    Webauthn { public_key: serde_json::Value },
}

/// What a verification led to.
pub enum Verified {
    Remaining(u8),
    Done { reset_token: String },
}

/// One attempt, gathered and decided.
pub struct Assessed {
    pub name: AccountName,
    pub context: Context,
    pub signals: Signals,
    pub assessment: risk::Assessment,
    /// The account's options (decoy ones for decoys).
    pub options: Vec<FlowOption>,
    pub known: bool,
    /// When the decision was taken (the time the signals were read at).
    pub now: std::time::SystemTime,
    /// The owner locked the account's resets ("this wasn't me"); it is then
    /// not `known`, and gets a decoy.
    pub locked: bool,
    pub decoy: bool,
}

/// Gather every signal for `name` from `client` and decide. With `record`,
/// the attempt is counted in the velocity windows (a reset start); without,
/// the counters are only read (`POST /v1/risk/evaluate`).
pub async fn assess(
    s: &AppState,
    name: AccountName,
    client: &Client,
    record: bool,
) -> ApiResult<Assessed> {
    let context = Context::of(client, s.geo.as_ref());
    assess_context(s, name, context, client.ip, record, s.clock.now()).await
}

/// [`assess`] for a context already built (the replay of recorded traffic
/// builds it from the record), at `now`.
pub async fn assess_context(
    s: &AppState,
    name: AccountName,
    context: Context,
    ip: std::net::IpAddr,
    record: bool,
    now: std::time::SystemTime,
) -> ApiResult<Assessed> {
    // Every store call happens for known and unknown names alike: the durable
    // reads in one go (with the user row, for the built-in directory), and
    // another directory's lookup next to them.
    let in_store = s.directory.accounts_in_store();
    let request = AttemptQuery {
        username: name.as_str().to_owned(),
        current: context.features(),
        device_id: account::bound_device(&context).map(str::to_owned),
        with_user: in_store,
    };
    let (reads, looked_up) = tokio::try_join!(
        async { Ok::<_, ApiError>(s.durable.attempt(request).await?) },
        async {
            if in_store {
                Ok(None)
            } else {
                Ok::<_, ApiError>(s.directory.lookup(&name).await?)
            }
        },
    )?;
    let AttemptReads {
        user,
        factors: records,
        history: past,
        lock,
    } = reads;
    let account = if in_store {
        user.map(|row| directory::account_of(&name, row))
    } else {
        looked_up
    };
    let address = bucket(ip).to_string();
    let origin = velocity::Origin {
        account: name.as_str(),
        lane: velocity::Lane::of(past.device_known),
        address: &address,
        subnet: &velocity::subnet(ip),
        asn: context.asn,
    };
    let started = std::time::Instant::now();
    let velocity = velocity::gather(s.ephemeral.as_ref(), &origin, record, now).await?;
    crate::metrics::store_call("ephemeral", "velocity_windows", started.elapsed());
    // A locked account (its owner said "this wasn't me") is treated as an
    // unknown one: it looks the same and can never succeed.
    let known = account.as_ref().is_some_and(|a| a.enabled) && lock.is_none();
    // E-mail codes go to the directory's address, when a relay delivers them
    // (from the lookup every name makes: no extra call for known ones).
    let relay = s.email.has_relay();
    let email = factors::code_address(account.as_ref().and_then(|a| a.email.as_deref()), relay);
    // A mobile number in the directory is an administrator-provisioned phone.
    let records =
        factors::with_directory_phone(records, account.as_ref().and_then(|a| a.mobile.as_deref()));
    let usable = factors::eligible_options(
        &records,
        email,
        crate::time::unix(now),
        s.config.reset.factor_cooloff,
    );
    // An account with no usable factor gets a decoy too: answering "denied" at
    // low risk would tell that the name exists.
    let decoy = !known || usable.is_empty();
    // Both answers are made for every name, and one is used: a decoy's keyed
    // MACs must not make an unknown name's start measurably slower than a
    // known one's (the timing test in `tests/it/hardening.rs` tells 30 µs).
    let decoy_options = factors::decoy_options(&s.key, &name, relay.then(|| s.email.from_domain()));
    let options = if decoy { decoy_options } else { usable };
    let decoy_history = account::decoy(
        &past,
        &context,
        &s.key.mac(&[b"decoy-history", name.as_str().as_bytes()]),
        now,
    );
    let real_history = account::history(&past, &records);
    let mut signals = Signals {
        velocity,
        enrolled: options.iter().map(|o| o.factor).collect(),
        geo: context.geo(),
        device: context.device(past.device_known),
        history: if decoy { decoy_history } else { real_history },
        anomaly: None,
        anomaly_model: None,
    };
    // The model reads every other signal (one code path with training:
    // `models::features`), then its score joins them.
    let model = s.model();
    signals.anomaly = Some(model.score(&signals, now));
    signals.anomaly_model = Some(model.version().to_owned());
    let assessment = risk::evaluate(&s.policy(), &signals, now);
    Ok(Assessed {
        name,
        context,
        signals,
        assessment,
        options,
        known,
        now,
        locked: lock.is_some(),
        decoy,
    })
}

/// Start a reset for `raw_name` from `client`.
pub async fn start(s: &AppState, raw_name: &str, client: &Client) -> ApiResult<Flow> {
    let name = AccountName::parse(raw_name).map_err(|e| ApiError::invalid(e.to_string()))?;
    if s.ephemeral.crowded() {
        return Err(ApiError::unavailable(
            "the ephemeral store is near its budget (store.memory_limit_mb): new resets wait",
        ));
    }
    let Assessed {
        name,
        context,
        signals,
        assessment,
        options,
        known,
        now: decided_at,
        locked,
        decoy,
    } = assess(s, name, client, true).await?;
    let shadow = shadow_verdict(s, &signals, &assessment, decided_at);
    let offered: Vec<FlowOption> = assessment
        .required
        .allowed
        .iter()
        .filter_map(|f| options.iter().find(|o| o.factor == *f).cloned())
        .collect();
    let unix = s.now();
    let flow = Flow {
        id: crypto::random_token(),
        account: name.to_string(),
        decoy,
        address: context.ip.clone(),
        bucket: bucket(client.ip).to_string(),
        created_at: unix,
        expires_at: unix + secs(s.config.reset.flow_ttl),
        state: if assessment.level == Level::Deny {
            State::Denied
        } else {
            State::Challenge
        },
        score: assessment.score.get(),
        level: assessment.level,
        required: assessment.required.count,
        require_one_of: assessment.required.require_one_of.clone(),
        options: offered,
        passed: Vec::new(),
        failures: 0,
        sends: 0,
        password_tries: 0,
        codes: Vec::new(),
        token_mac: None,
        context,
        reasons: assessment.reasons.clone(),
        policy_version: assessment.policy_version.clone(),
        model_version: assessment.model_version.clone(),
        lane: velocity::Lane::of(signals.device.known),
    };
    store_new(s, &flow).await?;
    crate::metrics::decision(assessment.level);
    let at = s.clock.now();
    let attempt = || ocsf::Attempt {
        user: name.clone(),
        source: alerts::source(&flow.context),
        assessment: assessment.clone(),
        time: at,
    };
    let alert = match assessment.level {
        Level::High => s.webhooks.message(&Event::RiskHigh(attempt())),
        Level::Deny => s.webhooks.message(&Event::ResetDenied(attempt())),
        Level::Low | Level::Medium => None,
    };
    alerts::spray(s, &flow.context, &flow.bucket, &signals, &assessment, at);
    let started = Started {
        address: &flow.address,
        decided_at_ms: crate::time::unix_millis(decided_at),
        decoy,
        factors_required: flow.required,
        flow_id: &flow.id,
        level: assessment.level,
        locked,
        model_version: assessment.model_version.as_deref(),
        options: flow.options.iter().map(|o| o.factor).collect(),
        policy_version: &assessment.policy_version,
        reasons: &assessment.reasons,
        score: assessment.score.get(),
        shadow,
        signals: &signals,
        unknown_account: !known && !locked,
    };
    let event = AuditEvent::new(at, "reset.started", name.as_str(), started).with_alert(alert);
    // Answered without waiting for the disk only where a lost record could
    // go only with the flow it started (`AuditLog::submit`); an alert is
    // always waited for.
    if event.alert.is_none() && s.ephemeral.dies_with_the_process() {
        s.audit.submit(event).await?;
    } else {
        s.audit.record(event).await?;
    }
    Ok(flow)
}

/// The `reset.started` audit record's data (fields in name order, as the
/// records' other objects are).
#[derive(serde::Serialize)]
struct Started<'a> {
    address: &'a str,
    decided_at_ms: i64,
    decoy: bool,
    factors_required: u8,
    flow_id: &'a str,
    level: Level,
    locked: bool,
    model_version: Option<&'a str>,
    options: Vec<Factor>,
    policy_version: &'a str,
    reasons: &'a [risk::Reason],
    score: u8,
    shadow: Option<serde_json::Value>,
    signals: &'a Signals,
    unknown_account: bool,
}

/// The shadow candidate's decision on the same signals at the same time
/// (`crate::policies`), for the audit record; `None` without a shadow. It
/// decides nothing: a disagreement is only recorded and counted.
fn shadow_verdict(
    s: &AppState,
    signals: &risk::Signals,
    live: &risk::Assessment,
    at: std::time::SystemTime,
) -> Option<serde_json::Value> {
    let shadow = s.policies.shadow()?;
    let verdict = risk::evaluate(&shadow.policy, signals, at);
    let agrees = verdict.level == live.level;
    if !agrees {
        crate::metrics::shadow_disagreement(live.level, verdict.level);
    }
    Some(json!({
        "version_id": shadow.version_id,
        "policy_version": verdict.policy_version,
        "score": verdict.score.get(),
        "level": verdict.level,
        "agrees": agrees,
        "reasons": verdict.reasons.iter().map(|r| &r.code).collect::<Vec<_>>(),
    }))
}

/// Send a code for `factor` (SMS, e-mail), say none is needed (TOTP), or
/// give the WebAuthn request options.
pub async fn challenge(s: &AppState, flow_id: &str, factor: Factor) -> ApiResult<Challenged> {
    let (mut flow, raw) = load(s, flow_id).await?;
    let now = s.now();
    let option = flow.check_factor(factor, now)?.clone();
    match factor {
        Factor::Totp => return Ok(Challenged::NoChallengeNeeded),
        Factor::Sms | Factor::Email => {}
        Factor::Webauthn => {
            let left = u64::try_from(flow.expires_at - now).unwrap_or(0);
            let public_key = webauthn::reset_challenge(
                s,
                &flow.id,
                &flow.account,
                flow.decoy,
                &option.factor_ids,
                Duration::from_secs(left),
            )
            .await?;
            audit(
                s,
                "factor.challenged",
                &flow,
                json!({"flow_id": flow.id, "factor": factor}),
            )
            .await?;
            return Ok(Challenged::Webauthn { public_key });
        }
    }
    if flow.sends >= crate::flow::MAX_SENDS {
        return Err(crate::flow::FlowError::TooManySends.into());
    }
    // Per account across flows and addresses and across SMS and e-mail
    // (pumping, bombing); counted for decoys alike, since the key is the name.
    // Read in the flow's lane and counted only when a code goes.
    let (hour, day) = velocity::codes_sent(
        s.ephemeral.as_ref(),
        &flow.account,
        flow.lane,
        s.clock.now(),
    )
    .await?;
    if hour >= MAX_SENDS_PER_HOUR || day >= MAX_SENDS_PER_DAY {
        let wait = if day >= MAX_SENDS_PER_DAY {
            86_400
        } else {
            3600
        };
        return Err(ApiError::too_many(
            "too_many_sends",
            "no more codes can be sent to this account for now; try again later",
            wait,
        ));
    }
    let code = crypto::random_code(6);
    let ttl = s.config.reset.code_ttl;
    flow.add_code(PendingCode {
        factor,
        mac: code_mac(s, &flow.id, factor, &code),
        expires_at: now + secs(ttl),
    })?;
    save(s, &raw, &flow).await?;
    velocity::code_sent(
        s.ephemeral.as_ref(),
        &flow.account,
        flow.lane,
        s.clock.now(),
    )
    .await?;
    // Looked up for decoys too (it finds nothing to send to, or the decoy
    // sends nothing), so both paths cost the same; delivery is in the
    // background, so the answer's timing does not depend on it either.
    if factor == Factor::Email {
        let address = email_address(s, &flow.account).await?;
        if let (false, Some(address)) = (flow.decoy, address) {
            s.email.send_code(
                address,
                &flow.account,
                &code,
                ttl,
                &s.config.reset.help_desk,
            );
        }
    } else {
        let phone = sms_phone(s, &flow.account, &option).await?;
        if let (false, Some(phone)) = (flow.decoy, phone) {
            s.sms.send(phone, sms::code_message(&code, ttl));
        }
    }
    audit(
        s,
        "factor.challenged",
        &flow,
        json!({"flow_id": flow.id, "factor": factor}),
    )
    .await?;
    Ok(Challenged::Sent {
        expires_in: ttl.as_secs(),
    })
}

/// Check `code` for `factor`.
pub async fn verify(
    s: &AppState,
    flow_id: &str,
    factor: Factor,
    code: &str,
) -> ApiResult<Verified> {
    if !(6..=10).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid("code must be 6 to 10 digits"));
    }
    let (flow, raw) = load(s, flow_id).await?;
    let now = s.now();
    let option = flow.check_factor(factor, now)?.clone();
    if factor == Factor::Webauthn {
        return Err(ApiError::invalid(
            "send {\"factor\": \"webauthn\", \"credential\"}",
        ));
    }
    count_attempt(s, &flow).await?;
    let (mut flow, raw) = charge(s, flow, &raw).await?;
    let matched = match factor {
        Factor::Totp => match check_totp(s, &flow, &option, code, now).await {
            Ok(matched) => matched,
            Err(e) => return Err(uncharge(s, flow, &raw, e).await),
        },
        _ => flow.pending_code(factor, now).is_some_and(|p| {
            crypto::ct_eq(
                p.mac.as_bytes(),
                code_mac(s, &flow.id, factor, code).as_bytes(),
            )
        }),
    };
    // A decoy's codes are real MACs of codes nobody received; a lucky guess
    // must still fail, or a decoy could be told apart by succeeding.
    let ok = matched && !flow.decoy;
    flow.refund_try();
    if ok {
        pass(s, flow, &raw, factor, &option.factor_ids).await
    } else {
        fail(s, flow, &raw, factor).await
    }
}

/// Check a WebAuthn assertion (the answer to this flow's last `challenge`).
/// Counted like a code: a failed assertion costs one of the flow's tries.
pub async fn verify_webauthn(
    s: &AppState,
    flow_id: &str,
    credential: &serde_json::Value,
) -> ApiResult<Verified> {
    let (flow, raw) = load(s, flow_id).await?;
    let option = flow.check_factor(Factor::Webauthn, s.now())?.clone();
    count_attempt(s, &flow).await?;
    let (mut flow, raw) = charge(s, flow, &raw).await?;
    let outcome = match webauthn::reset_verify(
        s,
        &flow.id,
        &flow.account,
        flow.decoy,
        &option.factor_ids,
        credential,
    )
    .await
    {
        Ok(outcome) => outcome,
        Err(e) => return Err(uncharge(s, flow, &raw, e).await),
    };
    flow.refund_try();
    match outcome {
        Assertion::Valid { factor_id } if !flow.decoy => {
            pass(s, flow, &raw, Factor::Webauthn, &[factor_id]).await
        }
        _ => fail(s, flow, &raw, Factor::Webauthn).await,
    }
}

/// Charge the flow a failure before a code is checked ([`Flow::charge_try`]):
/// stored by compare-and-swap, so that of parallel guesses at one flow only
/// one is checked (the others are answered 409 `flow_busy`, unchecked) and the
/// flow's limit of wrong codes holds. Returns the charged flow and its bytes.
async fn charge(s: &AppState, mut flow: Flow, raw: &[u8]) -> ApiResult<(Flow, Vec<u8>)> {
    // Every try is stored before it is checked, but a try whose outcome lost
    // the race to be saved stays charged without locking the flow: the limit
    // is enforced here too, before a check.
    if flow.failures >= s.config.reset.max_attempts_per_flow {
        flow.lock();
        save(s, raw, &flow).await?;
        return Err(crate::flow::FlowError::Locked.into());
    }
    flow.charge_try();
    save(s, raw, &flow).await?;
    let raw = serde_json::to_vec(&flow).map_err(ApiError::internal)?;
    Ok((flow, raw))
}

/// Times a right code's pass is applied again to a flow that other requests
/// changed meanwhile ([`pass`]).
const PASS_RETRIES: usize = 3;

/// The check could not be made (a store failing, an answer that is not an
/// assertion): give the charged try back, as far as the flow lets us, and
/// answer `error`.
async fn uncharge(s: &AppState, mut flow: Flow, raw: &[u8], error: ApiError) -> ApiError {
    flow.refund_try();
    if let Err(e) = save(s, raw, &flow).await {
        tracing::warn!(error = %e.code, "a try charged to a flow was not given back");
    }
    error
}

/// Count a verification attempt against the account (across flows and
/// addresses) before checking it, so parallel guesses cannot slip through.
async fn count_attempt(s: &AppState, flow: &Flow) -> ApiResult<()> {
    let window = s.config.reset.account_failure_window;
    let attempts = velocity::code_attempt(
        s.ephemeral.as_ref(),
        &flow.account,
        flow.lane,
        window,
        s.clock.now(),
    )
    .await?;
    if attempts > u64::from(s.config.reset.account_failure_limit) {
        return Err(ApiError::too_many(
            "too_many_attempts",
            "too many codes tried for this account; wait and try again",
            window.as_secs(),
        ));
    }
    Ok(())
}

async fn pass(
    s: &AppState,
    mut flow: Flow,
    raw: &[u8],
    factor: Factor,
    used: &[String],
) -> ApiResult<Verified> {
    crate::metrics::verification(factor, true);
    let mut raw = raw.to_vec();
    let mut tries = 0;
    let outcome = loop {
        let outcome = match flow.record_pass(factor) {
            Progress::Remaining(n) => Verified::Remaining(n),
            Progress::Verified => {
                let token = crypto::random_token();
                flow.token_mac = Some(token_mac(s, &flow.id, &token));
                Verified::Done { reset_token: token }
            }
        };
        match save(s, &raw, &flow).await {
            Ok(()) => break outcome,
            // Another request's charge landed meanwhile: the code was right
            // (and a TOTP step is spent), so the pass is applied again to
            // the flow as it now is, with this request's charge given back.
            Err(e) if e.status == StatusCode::CONFLICT && tries < PASS_RETRIES => {
                tries += 1;
                let (mut fresh, fresh_raw) = load(s, &flow.id).await?;
                fresh.check_factor(factor, s.now())?;
                fresh.refund_try();
                (flow, raw) = (fresh, fresh_raw);
            }
            Err(e) => return Err(e),
        }
    };
    for id in used {
        s.durable.touch_factor(id, s.now()).await?;
    }
    audit(
        s,
        "factor.verified",
        &flow,
        json!({"flow_id": flow.id, "factor": factor, "state": flow.state}),
    )
    .await?;
    Ok(outcome)
}

async fn fail(s: &AppState, mut flow: Flow, raw: &[u8], factor: Factor) -> ApiResult<Verified> {
    crate::metrics::verification(factor, false);
    let left = flow.record_failure(s.config.reset.max_attempts_per_flow);
    // Independent writes, sent together (one round trip's wait, not two): the
    // wrong code counts against the account and address even if the flow
    // changed meanwhile and the save is refused.
    let (saved, counted) = tokio::join!(
        save(s, raw, &flow),
        velocity::record_failure(
            s.ephemeral.as_ref(),
            &flow.account,
            flow.lane,
            &flow.bucket,
            s.clock.now(),
        )
    );
    saved?;
    counted?;
    audit(
        s,
        "factor.failed",
        &flow,
        json!({"flow_id": flow.id, "factor": factor, "attempts_left": left}),
    )
    .await?;
    if left == 0 {
        return Err(crate::flow::FlowError::Locked.into());
    }
    Err(ApiError::bad_request("invalid_code", "that code is not right").with("attempts_left", left))
}

/// TOTP: any of the option's seeds, each step once per account. Decoys run the
/// same computation against a derived seed and always fail.
async fn check_totp(
    s: &AppState,
    flow: &Flow,
    option: &FlowOption,
    code: &str,
    now: i64,
) -> ApiResult<bool> {
    let at = u64::try_from(now).unwrap_or(0);
    // Read for decoys too (it finds nothing), so both paths cost the same.
    let mut seeds = factors::totp_seeds(s, &flow.account, &option.factor_ids).await?;
    if flow.decoy {
        seeds = vec![
            s.key
                .mac(&[b"decoy-totp", flow.account.as_bytes()])
                .to_vec(),
        ];
    }
    let step = seeds.iter().find_map(|seed| totp::check(seed, code, at));
    match step {
        Some(step) if !flow.decoy => Ok(s
            .ephemeral
            .advance(
                &keys::totp_step(&flow.account),
                step,
                Duration::from_mins(5),
            )
            .await?),
        _ => Ok(false),
    }
}

async fn sms_phone(s: &AppState, account: &str, option: &FlowOption) -> ApiResult<Option<String>> {
    // The directory is asked for every name (decoys too), so a directory
    // phone costs no extra call.
    let (records, mobile) = tokio::try_join!(
        async { Ok::<_, ApiError>(s.durable.factors(account).await?) },
        async {
            let Ok(name) = AccountName::parse(account) else {
                return Ok(None);
            };
            Ok::<_, ApiError>(s.directory.lookup(&name).await?.and_then(|a| a.mobile))
        },
    )?;
    Ok(factors::with_directory_phone(records, mobile.as_deref())
        .into_iter()
        .find(|r| option.factor_ids.contains(&r.id))
        .and_then(|r| r.phone))
}

/// The account's address for e-mail codes, as the directory has it now (one
/// directory lookup, for decoys too).
async fn email_address(s: &AppState, account: &str) -> ApiResult<Option<String>> {
    let Ok(name) = AccountName::parse(account) else {
        return Ok(None);
    };
    let account = s.directory.lookup(&name).await?;
    Ok(account
        .and_then(|a| a.email)
        .and_then(|e| factors::code_address(Some(&e), s.email.has_relay()).map(str::to_owned)))
}

/// The flow as stored, with its raw bytes for compare-and-swap.
pub async fn load(s: &AppState, flow_id: &str) -> ApiResult<(Flow, Vec<u8>)> {
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "flow_not_found",
            "no such reset flow",
        )
    };
    if flow_id.len() > 64 {
        return Err(not_found());
    }
    let raw = s
        .ephemeral
        .get(&keys::flow(flow_id))
        .await?
        .ok_or_else(not_found)?;
    let flow: Flow = serde_json::from_slice(&raw).map_err(ApiError::internal)?;
    Ok((flow, raw))
}

async fn store_new(s: &AppState, flow: &Flow) -> ApiResult<()> {
    let bytes = serde_json::to_vec(flow).map_err(ApiError::internal)?;
    s.ephemeral
        .put(&keys::flow(&flow.id), &bytes, flow_ttl(s, flow))
        .await?;
    Ok(())
}

/// Write `flow` if nobody changed it since it was read as `raw`.
pub async fn save(s: &AppState, raw: &[u8], flow: &Flow) -> ApiResult<()> {
    let bytes = serde_json::to_vec(flow).map_err(ApiError::internal)?;
    if s.ephemeral
        .compare_and_swap(&keys::flow(&flow.id), raw, &bytes, flow_ttl(s, flow))
        .await?
    {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::CONFLICT,
            "flow_busy",
            "this reset changed meanwhile; try again",
        ))
    }
}

fn flow_ttl(s: &AppState, flow: &Flow) -> Duration {
    let left = u64::try_from(flow.expires_at - s.now()).unwrap_or(0);
    Duration::from_secs(left) + EXPIRED_GRACE
}

async fn audit(
    s: &AppState,
    kind: &'static str,
    flow: &Flow,
    data: serde_json::Value,
) -> ApiResult<()> {
    Ok(s.audit
        .record(AuditEvent::new(
            s.clock.now(),
            kind,
            flow.account.clone(),
            data,
        ))
        .await?)
}

fn code_mac(s: &AppState, flow_id: &str, factor: Factor, code: &str) -> String {
    hex::encode(s.key.mac(&[
        b"code",
        flow_id.as_bytes(),
        factor.as_str().as_bytes(),
        code.as_bytes(),
    ]))
}

/// The reset token's MAC, as kept in the flow.
pub fn token_mac(s: &AppState, flow_id: &str, token: &str) -> String {
    hex::encode(
        s.key
            .mac(&[b"reset-token", flow_id.as_bytes(), token.as_bytes()]),
    )
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}
