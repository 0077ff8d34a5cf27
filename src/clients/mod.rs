//! What both API clients share: the transport ([`http`]), the error
//! classification ([`api_error`]), the retry policy inside one call
//! ([`retry`]), and the request budgets per Notion integration and Airtable
//! base ([`ratelimit`], kept in the database across replicas by
//! [`shared_budget`]), and several requests of one write in flight within
//! them ([`pipeline`]).

pub mod api_error;
pub mod http;
pub mod limits;
pub mod pipeline;
pub mod ratelimit;
pub mod retry;
pub mod shared_budget;

pub use shared_budget::SharedBudget;
