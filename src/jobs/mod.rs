//! The job vocabulary: what jobs exist and what each carries ([`spec`]).
//! The HTTP ingest and the engine enqueue them; the worker runs them.

pub mod review;
pub mod spec;
