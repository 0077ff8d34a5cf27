//! The job pipeline: what jobs exist ([`kinds`]).

pub mod kinds;
