//! What each job does: the sync engine behind the queue's [`JobHandler`]
//! (crate::queue::JobHandler), and the one classifier from the engine's
//! errors to retry, defer or dead.

pub mod classify;
pub mod handler;
pub mod service;
