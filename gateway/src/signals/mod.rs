//! Signal gathering: the gateway collects what `risk` decides on. Modules here
//! count and look up; they never decide.

pub mod account;
pub mod context;
pub mod device;
pub mod geo;
pub mod velocity;
