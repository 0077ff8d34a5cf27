//! notion sandbox
