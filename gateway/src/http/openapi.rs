//! The `OpenAPI` 3.1 document served at `/openapi.json`.
//!
//! The request bodies' schemas are derived from the Rust types the handlers
//! deserialise (`utoipa::ToSchema` on each, with the limits and patterns the
//! handlers enforce as schema attributes), so a field added, renamed or made
//! optional in the code is what the document says. The rest — paths,
//! responses with every error code, response schemas — is written by hand
//! in `openapi/document.json`; router tests hold it to the routes (every
//! route documented, every documented operation served and answering with
//! a documented status and error code). [`document`] puts the two together.

use std::sync::OnceLock;

use serde_json::Value;
use utoipa::OpenApi;
use utoipa::openapi::schema::Schema;
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
        let derived = RequestBodies::openapi()
            .components
            .map(|c| c.schemas)
            .unwrap_or_default();
        for (name, schema) in derived {
            let schema = serde_json::to_value(schema).expect("a schema serialises");
            doc["components"]["schemas"][name] = schema;
        }
        doc
    })
}
