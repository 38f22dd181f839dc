//! Storage behind traits: [`ephemeral`] (short-lived, shared state with TTLs)
//! and [`durable`] (what must survive a restart).

pub mod durable;
pub mod ephemeral;
