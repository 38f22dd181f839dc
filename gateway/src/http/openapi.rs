//! The `OpenAPI` 3.1 document served at `/openapi.json`.
//!
//! From the code: which operations exist — each handler carries
//! `#[utoipa::path]` and is routed with utoipa-axum's `routes!`, so a route
//! and its operation are one declaration (`super::operations`) — and the
//! request bodies' schemas, derived from the Rust types the handlers
//! deserialise (`utoipa::ToSchema`, with the limits and patterns the
//! handlers enforce as schema attributes). Written by hand in
//! `openapi/document.json`: each operation's summary, description,
//! parameters and responses with every error code, and the response
//! schemas; router tests hold those to what the handlers answer.
//! [`document`] puts the two together: the operations the router serves,
//! described by the hand-written text.

use std::sync::OnceLock;

use serde_json::Value;
use utoipa::OpenApi;
use utoipa::openapi::schema::{
    AnyOfBuilder, KnownFormat, Object, ObjectBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::{Ref, RefOr};

use super::{admin, admin_data, enroll, reset, risk};

/// The request bodies whose schemas come from the code.
#[derive(OpenApi)]
#[openapi(components(schemas(
    reset::StartRequest,
    reset::CompleteRequest,
    enroll::LoginRequest,
    enroll::CodeRequest,
    enroll::PhoneRequest,
    risk::EvaluateRequest,
    admin::LoginRequest,
    admin::PasskeyLoginRequest,
    admin::PasskeyFinishRequest,
    admin::RedeliverRequest,
    admin_data::PolicyText,
    admin_data::DiffRequest,
    admin_data::ShadowRequest,
    admin_data::SimulateRequest,
    admin_data::LabelRequest,
    admin_data::NewKey,
    admin_data::NewUserRequest,
    crate::decisions::Label,
)))]
struct RequestBodies;

/// A WebAuthn assertion (`PublicKeyCredential` as JSON), described by hand.
pub fn webauthn_assertion() -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name("WebauthnAssertion"))
}

/// A WebAuthn registration response, described by hand.
pub fn webauthn_registration() -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name("WebauthnRegistration"))
}

/// A user name as the handlers take it (`crate::account::AccountName`):
/// something besides white space, no control characters, at most 256
/// characters (256 bytes once normalised: NFKC, trimmed, lower-cased).
pub fn username() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(crate::account::MAX_LEN))
        .pattern(Some(USERNAME_PATTERN))
        .description(Some(
            "Normalised (NFKC, trimmed, lower-cased); 1 to 256 bytes afterwards, \
             not only white space, no control characters.",
        ))
        .build()
}

/// Not only white space, and no C0/C1 control characters.
pub const USERNAME_PATTERN: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*\
    [^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$";

/// An IPv4 or IPv6 address in text.
pub fn ip_address() -> RefOr<Schema> {
    let format = |f| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(f)))
    };
    AnyOfBuilder::new()
        .item(format(KnownFormat::Ipv4))
        .item(format(KnownFormat::Ipv6))
        .description(Some(
            "The end user's address (IPv4 or IPv6) as the calling system saw it.",
        ))
        .into()
}

/// What the request types cannot say in their fields: exactly one of two
/// fields (the other absent or null), as the handlers demand (else 400
/// `invalid_request`).
fn across_fields(name: &str) -> Option<Value> {
    let one_of = |a: (&str, &str), b: (&str, &str)| {
        let alternative = |(this, kind): (&str, &str), (other, _): (&str, &str)| {
            serde_json::json!({
                "required": [this],
                "properties": {this: {"type": kind}, other: {"type": "null"}}
            })
        };
        serde_json::json!([alternative(a, b), alternative(b, a)])
    };
    match name {
        "PolicyDiffRequest" => Some(one_of(("text", "string"), ("to", "integer"))),
        "SimulateRequest" => Some(one_of(("policy", "string"), ("version_id", "integer"))),
        _ => None,
    }
}

/// The names of the schemas derived from the code.
pub fn derived_schema_names() -> Vec<String> {
    RequestBodies::openapi()
        .components
        .map(|c| c.schemas.into_keys().collect())
        .unwrap_or_default()
}

/// The whole document: the hand-written one with the derived schemas in.
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut doc: Value = serde_json::from_str(include_str!("openapi/document.json"))
            .expect("openapi/document.json is JSON (a router test reads it)");
        doc["paths"] = paths(&doc["paths"]);
        let derived = RequestBodies::openapi()
            .components
            .map(|c| c.schemas)
            .unwrap_or_default();
        for (name, schema) in derived {
            let mut schema = serde_json::to_value(schema).expect("a schema serialises");
            if let Some(alternatives) = across_fields(&name) {
                schema["anyOf"] = alternatives;
            }
            doc["components"]["schemas"][name] = schema;
        }
        doc
    })
}

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// The router's operations, each with its hand-written description (or,
/// failing one, what the code says of it: a router test refuses that).
fn paths(written: &Value) -> Value {
    let served = serde_json::to_value(super::operations().paths).expect("paths serialise");
    let mut out = serde_json::Map::new();
    for (path, item) in served.as_object().into_iter().flatten() {
        let mut described = serde_json::Map::new();
        for (key, operation) in item.as_object().into_iter().flatten() {
            if !METHODS.contains(&key.as_str()) {
                continue;
            }
            let text = &written[path][key];
            described.insert(
                key.clone(),
                if text.is_object() {
                    text.clone()
                } else {
                    operation.clone()
                },
            );
        }
        out.insert(path.clone(), Value::Object(described));
    }
    Value::Object(out)
}

/// Operations the router serves that `openapi/document.json` does not
/// describe, and described ones it does not serve, as `METHOD path`.
pub fn undescribed_and_unserved() -> (Vec<String>, Vec<String>) {
    let written: Value = serde_json::from_str(include_str!("openapi/document.json"))
        .expect("openapi/document.json is JSON");
    let served = serde_json::to_value(super::operations().paths).expect("paths serialise");
    let list = |paths: &Value| -> Vec<String> {
        paths
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(path, item)| {
                item.as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| METHODS.contains(&k.as_str()))
                    .map(move |(k, _)| format!("{} {path}", k.to_uppercase()))
            })
            .collect()
    };
    let (served, written) = (list(&served), list(&written["paths"]));
    (
        served
            .iter()
            .filter(|o| !written.contains(o))
            .cloned()
            .collect(),
        written
            .iter()
            .filter(|o| !served.contains(o))
            .cloned()
            .collect(),
    )
}
