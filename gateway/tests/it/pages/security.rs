//! Headers on every page, static files, and the CSRF and origin checks.

use axum::http::{StatusCode, header};

use super::browser::{Browser, assert_html};
use crate::App;

#[tokio::test]
async fn pages_are_html_with_a_strict_policy_and_private_cookies() {
    let app = App::new().await;
    app.user("ann", "ann-initial-passphrase", None).await;
    app.totp("ann", 0, false).await;
    let mut b = Browser::new(&app);
    let start = b.get("/").await;
    assert_eq!(start.status, StatusCode::OK);
    assert_html(&start);
    let csrf = start.set_cookie("rg_csrf").expect("a CSRF cookie");
    assert!(
        csrf.contains("HttpOnly") && csrf.contains("SameSite=Strict") && csrf.contains("Path=/")
    );
    assert!(!csrf.contains("Secure"), "plain http in tests: {csrf}");
    let posted = b.submit(&start, "/reset", &[("username", "ann")]).await;
    assert_eq!(
        (posted.status, posted.location()),
        (StatusCode::SEE_OTHER, "/reset")
    );
    let flow = posted.set_cookie("rg_flow").expect("the flow cookie");
    // The cookie lives as long as the flow has left (`reset.flow_ttl`, 600 s,
    // in whole seconds): 599 when the start crossed a second.
    let max_age: u64 = flow
        .split("; ")
        .find_map(|part| part.strip_prefix("Max-Age="))
        .and_then(|age| age.parse().ok())
        .unwrap_or_else(|| panic!("a Max-Age: {flow}"));
    assert!(
        flow.contains("HttpOnly")
            && flow.contains("SameSite=Strict")
            && (599..=600).contains(&max_age),
        "{flow}"
    );
    assert!(
        posted.set_cookie("rg_device").is_some(),
        "a reset start sets the device cookie"
    );
    for path in [
        "/",
        "/reset",
        "/reset/code?factor=totp",
        "/reset/done",
        "/enroll",
    ] {
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        assert_html(&page);
    }
}

#[tokio::test]
async fn static_files_have_types_and_a_cache_lifetime() {
    let app = App::new().await;
    let mut b = Browser::new(&app);
    for (path, kind) in [
        ("/static/app.css", "text/css; charset=utf-8"),
        ("/static/webauthn.js", "text/javascript; charset=utf-8"),
    ] {
        let file = b.get(path).await;
        assert_eq!(file.status, StatusCode::OK, "{path}");
        assert_eq!(file.headers[header::CONTENT_TYPE], kind);
        assert_eq!(file.headers[header::CACHE_CONTROL], "public, max-age=3600");
        assert_eq!(file.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
    assert_eq!(
        b.get("/static/../Cargo.toml").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(b.get("/static/nope.js").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn posts_without_a_valid_token_or_from_elsewhere_are_refused_and_change_nothing() {
    let app = App::new().await;
    app.user("ann", "ann-initial-passphrase", None).await;
    let mut b = Browser::new(&app);
    let start = b.get("/").await;
    let token = start.csrf();
    let other = Browser::new(&app).get("/").await.csrf();
    let cases: [&[(&str, &str)]; 3] = [
        &[("username", "ann")],
        &[("username", "ann"), ("csrf", "00")],
        // A real token, but for another browser's cookie.
        &[("username", "ann"), ("csrf", &other)],
    ];
    for fields in cases {
        let refused = b.post_raw("/reset", fields).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{fields:?}");
        assert_html(&refused);
        assert!(
            refused
                .body
                .contains("This form expired; reload the page and try again")
        );
        assert!(
            refused.set_cookie("rg_flow").is_none() && refused.set_cookie("rg_device").is_none()
        );
        let login = b
            .post_raw(
                "/enroll/login",
                &[("username", "ann"), ("password", "ann-initial-passphrase")],
            )
            .await;
        assert_eq!(login.status, StatusCode::FORBIDDEN);
        assert!(login.set_cookie("rg_session").is_none());
    }
    b.origin = Some("https://evil.example".into());
    let foreign = b
        .post_raw("/reset", &[("username", "ann"), ("csrf", &token)])
        .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    // `Origin: null` is what Chromium sends for our own posts under
    // `Referrer-Policy: no-referrer`; the token decides: without it, refused.
    b.origin = Some("null".into());
    assert_eq!(
        b.post_raw("/reset", &[("username", "ann"), ("csrf", "0")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    b.origin = Some("http://localhost:8080".into());
    let ours = b
        .post_raw("/reset", &[("username", "ann"), ("csrf", &token)])
        .await;
    assert_eq!(ours.status, StatusCode::SEE_OTHER, "{}", ours.body);
    // The audit is written in order: once this start is there, any refused
    // one would be too.
    assert_eq!(
        audited(&app, "reset.started").await,
        1,
        "only the accepted start"
    );
    assert_eq!(audited(&app, "login.").await, 0, "no sign-in was tried");
    // The JSON helpers check the header the same way.
    let options = b
        .post_json(
            "/reset/webauthn/options",
            "{}",
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(options.status, StatusCode::FORBIDDEN, "{}", options.body);
    assert!(options.body.contains("csrf_failed"));
}

#[tokio::test]
async fn missing_fields_re_render_the_form_and_keep_what_was_typed() {
    let app = App::new().await;
    let mut b = Browser::new(&app);
    let start = b.get("/").await;
    let empty = b.submit(&start, "/reset", &[]).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_html(&empty);
    assert!(empty.text_of("error").contains("Enter your username."));
    let login = b.get("/enroll").await;
    let half = b
        .submit(&login, "/enroll/login", &[("username", "zoë")])
        .await;
    assert_eq!(half.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(half.body.contains("value=\"zoë\""), "{}", half.body);
    let hostile = b
        .submit(
            &login,
            "/enroll/login",
            &[("username", "<b>x\"y</b>"), ("password", "pw")],
        )
        .await;
    assert_eq!(hostile.status, StatusCode::UNAUTHORIZED);
    assert!(hostile.body.contains("Username or password is wrong."));
    assert!(!hostile.body.contains("<b>x"), "escaped: {}", hostile.body);
    let not_a_form = b
        .post_json(
            "/reset",
            "{\"username\":\"ann\"}",
            &[("content-type", "application/json")],
        )
        .await;
    assert!(matches!(
        not_a_form.status,
        StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN
    ));
    assert_html(&not_a_form);
}

#[tokio::test]
async fn over_https_cookies_are_host_prefixed_and_secure() {
    let app =
        App::with(|c| c.server.public_url = "https://reset.example.com".parse().unwrap()).await;
    app.user("ann", "ann-initial-passphrase", None).await;
    app.totp("ann", 0, false).await;
    let mut b = Browser::new(&app);
    b.origin = Some("https://reset.example.com".into());
    let start = b.get("/").await;
    let csrf = start
        .set_cookie("__Host-rg_csrf")
        .expect("__Host- CSRF cookie");
    assert!(csrf.contains("Secure") && csrf.contains("Path=/"), "{csrf}");
    let posted = b.submit(&start, "/reset", &[("username", "ann")]).await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.body);
    assert!(
        posted
            .set_cookie("__Host-rg_flow")
            .is_some_and(|c| c.contains("Secure"))
    );
    assert!(posted.set_cookie("__Host-rg_device").is_some());
    // A bare-named cookie (which a sibling subdomain could plant) is ignored.
    let mut planted = Browser::new(&app);
    planted
        .jar
        .insert("rg_flow".into(), b.jar["__Host-rg_flow"].clone());
    assert_eq!(planted.get("/reset").await.location(), "/");
}

/// Audit records whose kind starts with `kind`, once at least one record is in.
async fn audited(app: &App, kind: &str) -> usize {
    for _ in 0..100 {
        // Starts' records are committed just after their answers.
        app.state.audit.settled().await;
        let records = app.state.durable.audit_page(0, 1000).await.unwrap();
        if !records.is_empty() {
            return records.iter().filter(|r| r.kind.starts_with(kind)).count();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no audit record was written");
}

#[tokio::test]
async fn a_flooding_address_gets_a_page_with_retry_after() {
    let app = App::with(|c| c.server.rate_limit_per_second = 1).await;
    let mut b = Browser::new(&app);
    let mut last = b.get("/").await;
    for _ in 0..5 {
        last = b.get("/").await;
    }
    assert_eq!(last.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(last.has_id("too-many"), "{}", last.body);
    assert!(last.headers.contains_key(header::RETRY_AFTER));
    assert_html(&last);
    // The API's clients still get the API's JSON.
    let (status, body) = app.get("/v1/reset/x").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
    );
}
