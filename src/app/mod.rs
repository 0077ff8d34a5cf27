//! The composition root: wiring from the environment, `serve`, the CLI
//! commands and the demo. The only folder that may import every other.

pub mod commands;
pub mod demo;
pub mod quota;
pub mod serve;
pub mod undo;
