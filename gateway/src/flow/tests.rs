//! Every transition of the flow state machine, with made-up times.

use super::*;

const T0: i64 = 1_800_000_000;

fn flow(required: u8, factors: &[Factor]) -> Flow {
    Flow {
        id: "f".into(),
        account: "ann".into(),
        decoy: false,
        address: "192.0.2.1".into(),
        bucket: "192.0.2.1".into(),
        created_at: T0,
        expires_at: T0 + 600,
        state: State::Challenge,
        score: 0,
        level: Level::Low,
        required,
        require_one_of: vec![],
        options: factors
            .iter()
            .map(|f| FlowOption {
                factor: *f,
                hint: String::new(),
                factor_ids: vec![],
            })
            .collect(),
        passed: vec![],
        failures: 0,
        sends: 0,
        password_tries: 0,
        codes: vec![],
        token_mac: None,
        context: crate::signals::context::Context::default(),
        reasons: vec![],
        policy_version: String::new(),
        model_version: None,
        lane: crate::signals::velocity::Lane::Open,
    }
}

fn code(factor: Factor, expires_at: i64) -> PendingCode {
    PendingCode {
        factor,
        mac: "m".into(),
        expires_at,
    }
}

#[test]
fn one_factor_verifies() {
    let mut f = flow(1, &[Factor::Totp, Factor::Sms]);
    assert!(f.check_factor(Factor::Totp, T0).is_ok());
    assert_eq!(f.record_pass(Factor::Totp), Progress::Verified);
    assert_eq!(f.state, State::Verified);
    assert_eq!(f.status(T0), "verified");
    assert_eq!(
        f.check_factor(Factor::Sms, T0),
        Err(FlowError::NotChallenging)
    );
}

#[test]
fn two_factors_need_two_distinct() {
    let mut f = flow(2, &[Factor::Totp, Factor::Sms]);
    assert_eq!(f.record_pass(Factor::Sms), Progress::Remaining(1));
    assert_eq!(
        f.check_factor(Factor::Sms, T0),
        Err(FlowError::AlreadyPassed)
    );
    assert_eq!(f.record_pass(Factor::Totp), Progress::Verified);
}

#[test]
fn factor_not_offered() {
    let f = flow(1, &[Factor::Sms]);
    assert_eq!(
        f.check_factor(Factor::Totp, T0).unwrap_err(),
        FlowError::FactorNotOffered
    );
}

#[test]
fn expiry_is_exclusive_of_the_deadline() {
    let f = flow(1, &[Factor::Sms]);
    assert!(f.check_live(T0 + 599).is_ok());
    assert_eq!(f.check_live(T0 + 600), Err(FlowError::Expired));
    assert_eq!(f.status(T0 + 600), "expired");
}

#[test]
fn failures_lock_the_flow_at_the_limit() {
    let mut f = flow(1, &[Factor::Sms]);
    f.add_code(code(Factor::Sms, T0 + 300)).unwrap();
    for left in (1..5).rev() {
        assert_eq!(f.record_failure(5), left);
        assert_eq!(f.state, State::Challenge);
    }
    assert_eq!(f.record_failure(5), 0);
    assert_eq!(f.state, State::Locked);
    assert!(f.codes.is_empty(), "a locked flow keeps no code");
    assert_eq!(f.check_live(T0), Err(FlowError::Locked));
    assert_eq!(f.status(T0), "locked");
}

#[test]
fn codes_are_replaced_expire_and_burn() {
    let mut f = flow(1, &[Factor::Sms]);
    f.add_code(code(Factor::Sms, T0 + 300)).unwrap();
    f.add_code(code(Factor::Sms, T0 + 400)).unwrap();
    assert_eq!(f.codes.len(), 1);
    assert_eq!(
        f.pending_code(Factor::Sms, T0 + 399).unwrap().expires_at,
        T0 + 400
    );
    assert!(f.pending_code(Factor::Sms, T0 + 400).is_none());
    f.record_pass(Factor::Sms);
    assert!(f.pending_code(Factor::Sms, T0).is_none());
}

#[test]
fn sends_are_bounded() {
    let mut f = flow(1, &[Factor::Sms]);
    for _ in 0..MAX_SENDS {
        f.add_code(code(Factor::Sms, T0 + 300)).unwrap();
    }
    assert_eq!(
        f.add_code(code(Factor::Sms, T0 + 300)),
        Err(FlowError::TooManySends)
    );
}

#[test]
fn complete_only_once_and_only_when_verified() {
    let mut f = flow(1, &[Factor::Totp]);
    assert_eq!(f.begin_complete(T0), Err(FlowError::NotVerified));
    f.record_pass(Factor::Totp);
    assert_eq!(f.begin_complete(T0), Ok(()));
    assert_eq!(f.state, State::Completing);
    assert_eq!(f.begin_complete(T0), Err(FlowError::TokenUsed));
    f.state = State::Done;
    assert_eq!(f.begin_complete(T0), Err(FlowError::TokenUsed));
    assert_eq!(f.status(T0 + 10_000), "done");
}

#[test]
fn denied_flow_refuses_everything() {
    let mut f = flow(0, &[]);
    f.state = State::Denied;
    assert_eq!(f.check_factor(Factor::Sms, T0), Err(FlowError::Denied));
    assert_eq!(f.begin_complete(T0), Err(FlowError::Denied));
    assert_eq!(f.status(T0), "denied");
}

#[test]
fn sms_never_suffices_when_a_strong_factor_is_required() {
    let mut f = flow(2, &[Factor::Totp, Factor::Sms, Factor::Email]);
    f.require_one_of = vec![Factor::Webauthn, Factor::Totp];
    assert_eq!(f.record_pass(Factor::Sms), Progress::Remaining(1));
    assert_eq!(
        f.check_factor(Factor::Email, T0),
        Err(FlowError::NotStrongEnough)
    );
    assert!(f.check_factor(Factor::Totp, T0).is_ok());
    assert_eq!(f.record_pass(Factor::Totp), Progress::Verified);

    let mut g = flow(1, &[Factor::Totp, Factor::Sms]);
    g.require_one_of = vec![Factor::Totp];
    assert_eq!(
        g.check_factor(Factor::Sms, T0),
        Err(FlowError::NotStrongEnough)
    );
    assert_eq!(g.record_pass(Factor::Totp), Progress::Verified);
}
