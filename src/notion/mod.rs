//! notion
