//! The `OpenAPI` document at `GET /openapi.json`: it is served, every operation
//! it documents exists (and answers with a documented status and error code),
//! and every route the router registers is documented — except the HTML pages,
//! which are listed here instead.

use std::collections::BTreeSet;

use axum::http::{StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{App, CLIENT, request};

/// The router's source: its `.route("…", method(…))` calls are the truth.
const ROUTER_SOURCE: &str = include_str!("../../src/http/mod.rs");

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

type Operation = (String, String);

/// The HTML pages, their static files and the JSON helpers their scripts call:
/// not part of the API, so not in openapi.json. Every other route must be
/// documented; a new route is a choice between the document and this list.
const PAGE_ROUTES: [(&str, &str); 30] = [
    ("GET", "/"),
    ("GET", "/reset"),
    ("POST", "/reset"),
    ("POST", "/reset/challenge"),
    ("GET", "/reset/code"),
    ("POST", "/reset/verify"),
    ("POST", "/reset/webauthn/options"),
    ("POST", "/reset/complete"),
    ("GET", "/reset/done"),
    ("GET", "/lock"),
    ("POST", "/lock"),
    ("GET", "/enroll"),
    ("POST", "/enroll/login"),
    ("POST", "/enroll/logout"),
    ("POST", "/enroll/factors/{id}/remove"),
    ("POST", "/enroll/totp"),
    ("POST", "/enroll/totp/verify"),
    ("POST", "/enroll/sms"),
    ("POST", "/enroll/sms/verify"),
    ("POST", "/enroll/webauthn/options"),
    ("POST", "/enroll/webauthn/finish"),
    ("GET", "/admin"),
    ("POST", "/admin/login"),
    ("POST", "/admin/logout"),
    ("GET", "/admin/policy"),
    ("POST", "/admin/policy"),
    ("POST", "/admin/policy/check"),
    ("POST", "/admin/decisions/{id}/label"),
    ("POST", "/admin/policy/versions/{id}/activate"),
    ("GET", "/static/{file}"),
];

fn document() -> Value {
    resetgate::http::openapi::document().clone()
}

/// `(METHOD, path)` of every operation in the document.
fn documented(doc: &Value) -> BTreeSet<Operation> {
    doc["paths"]
        .as_object()
        .expect("paths is an object")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("a path item is an object")
                .keys()
                .filter(|key| METHODS.contains(&key.as_str()))
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect()
}

/// `(METHOD, path)` of every `.route("…", method(…)…)` call in `source`.
fn registered(source: &str) -> BTreeSet<Operation> {
    const CALL: &str = ".route(";
    let mut routes = BTreeSet::new();
    for (at, _) in source.match_indices(CALL) {
        // rustfmt puts a long path on the next line.
        let Some(rest) = source[at + CALL.len()..].trim_start().strip_prefix('"') else {
            continue;
        };
        let end = rest.find('"').expect("the path's closing quote");
        let path = &rest[..end];
        // The call's arguments, up to the parenthesis that closes `.route(`.
        let args = &rest[end + 1..];
        let mut depth = 1_u32;
        let close = args
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map(|(i, _)| i)
            .expect("the call's closing parenthesis");
        let args = &args[..close];
        for method in METHODS {
            for (i, _) in args.match_indices(&format!("{method}(")) {
                let before = args[..i].chars().next_back();
                if !matches!(before, Some(c) if c.is_alphanumeric() || c == '_' || c == ':') {
                    routes.insert((method.to_uppercase(), path.to_owned()));
                }
            }
        }
    }
    routes
}

/// The response object documented for `status`, following a `$ref` into
/// `components/responses`.
fn documented_response<'a>(
    doc: &'a Value,
    (method, path): &Operation,
    status: StatusCode,
) -> Option<&'a Value> {
    let response = doc["paths"][path][method.to_lowercase()]["responses"].get(status.as_str())?;
    match response.get("$ref").and_then(Value::as_str) {
        Some(target) => {
            let name = target
                .strip_prefix("#/components/responses/")
                .expect("responses refer to components/responses");
            doc["components"]["responses"].get(name)
        }
        None => Some(response),
    }
}

#[tokio::test]
async fn the_document_is_served_as_openapi_3_1() {
    let app = App::new().await;
    let response = app
        .router
        .clone()
        .oneshot(request("GET", "/openapi.json", CLIENT, None, None))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/json",
        "content type"
    );
    let (status, doc) = app.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1"), "openapi is {version:?}");
    assert_eq!(doc, document(), "the served document is the file");
    assert_eq!(doc["info"]["title"], "resetgate");
}

#[tokio::test]
async fn every_documented_operation_exists_and_answers_as_documented() {
    let doc = document();
    let operations = documented(&doc);
    assert!(operations.len() >= 17, "{operations:?}");
    // Demo mode, so that the dev outbox routes are live.
    let app = App::demo().await;
    for operation in &operations {
        let (method, path) = operation;
        let uri = path.replace("{flow_id}", "x").replace("{id}", "x");
        let body = matches!(method.as_str(), "POST" | "PUT" | "PATCH").then(|| json!({}));
        let (status, answer) = app.send(request(method, &uri, CLIENT, body, None)).await;
        let code = answer["error"].as_str();
        assert!(
            status != StatusCode::METHOD_NOT_ALLOWED
                && !(status == StatusCode::NOT_FOUND && code == Some("not_found")),
            "{method} {path}: the router does not serve it ({status}, {answer})"
        );
        let documented = documented_response(&doc, operation, status)
            .unwrap_or_else(|| panic!("{method} {path}: {status} is not documented ({answer})"));
        if let Some(code) = code {
            let description = documented["description"].as_str().unwrap_or_default();
            assert!(
                description.contains(&format!("`{code}`")),
                "{method} {path}: {status} `{code}` is not listed in {description:?}"
            );
        }
    }
}

#[tokio::test]
async fn every_registered_route_is_documented() {
    // The pages: registered with `.route(` in http/mod.rs, never documented.
    let pages_found = registered(ROUTER_SOURCE);
    let pages: BTreeSet<Operation> = PAGE_ROUTES
        .iter()
        .map(|&(m, p)| (m.to_owned(), p.to_owned()))
        .collect();
    assert_eq!(
        pages_found, pages,
        "the `.route(` calls of http/mod.rs are the page routes listed here"
    );
    assert!(
        pages.iter().all(|(_, path)| !path.starts_with("/v1")),
        "the JSON API under /v1 is documented, never a page"
    );
    // The API: routed with `routes!` from the handlers' `#[utoipa::path]`,
    // so the served document lists exactly the router's operations; each
    // must be described by hand, and nothing described may be unrouted.
    let (undescribed, unserved) = resetgate::http::openapi::undescribed_and_unserved();
    assert!(
        undescribed.is_empty(),
        "operations without a description in openapi/document.json: {undescribed:?}"
    );
    assert!(
        unserved.is_empty(),
        "described in openapi/document.json but not routed: {unserved:?}"
    );
    let operations = documented(&document());
    assert!(
        operations.contains(&("GET".to_owned(), "/healthz".to_owned()))
            && operations.contains(&("POST".to_owned(), "/v1/reset".to_owned()))
            && operations.len() >= 52,
        "{operations:?}"
    );
    assert!(
        operations.is_disjoint(&pages),
        "pages are not API operations"
    );
}

/// Every `$ref` in `value`, as `(section, name)`.
fn refs(value: &Value, out: &mut BTreeSet<(String, String)>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                let parts: Vec<&str> = target
                    .trim_start_matches("#/components/")
                    .split('/')
                    .collect();
                out.insert((parts[0].to_owned(), parts[1].to_owned()));
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves_and_request_schemas_come_from_the_code() {
    let doc = document();
    let mut found = BTreeSet::new();
    refs(&doc, &mut found);
    for (section, name) in &found {
        assert!(
            doc["components"][section].get(name).is_some(),
            "#/components/{section}/{name} is referenced but not defined"
        );
    }
    // The derived request schemas say what the types say.
    let derived = resetgate::http::openapi::derived_schema_names();
    assert!(derived.contains(&"StartRequest".to_owned()), "{derived:?}");
    let schema = |name: &str| doc["components"]["schemas"][name].clone();
    let required = |name: &str| -> Vec<String> {
        schema(name)["required"]
            .as_array()
            .map(|r| r.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    };
    assert_eq!(required("StartRequest"), ["username"]);
    assert_eq!(schema("StartRequest")["additionalProperties"], false);
    assert_eq!(required("EvaluateRequest"), ["username", "ip"]);
    assert_eq!(required("AdminLoginRequest"), ["username", "password"]);
    assert!(schema("AdminLoginRequest")["properties"]["code"].is_object());
    assert_eq!(
        schema("AdminPasskeyLoginRequest")["properties"]["credential"]["$ref"],
        "#/components/schemas/WebauthnAssertion"
    );
    assert_eq!(
        schema("CodeRequest")["properties"]["code"]["pattern"],
        "^[0-9]{6,10}$"
    );
    assert_eq!(schema("Label")["enum"], json!(["attack", "legitimate"]));
}
