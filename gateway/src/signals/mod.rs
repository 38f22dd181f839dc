//! Signal gathering: the gateway collects what `risk` decides on. Modules here
//! count and look up; they never decide.

pub mod velocity;
