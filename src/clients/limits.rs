//! The vendors' documented request limits, and how far below them the
//! budgets run.

use std::time::Duration;

use crate::store::Pace;

/// Notion averages three requests per second per integration, bursts
/// allowed: the budget keeps that average (paced, so the vendor never sees
/// more than the burst below at once, well within its allowance).
pub const NOTION_RATE_PER_SEC: f64 = 3.0;
/// Calls allowed back to back on a Notion integration ("bursts allowed";
/// newer docs count a budget per 60 s): enough for the two or three calls
/// of one change to go out at once, far below any such budget.
pub const NOTION_BURST: u32 = 5;
/// Airtable allows five requests per second per base: five calls in any
/// window of a second and a little. The margin is what lets a call arrive
/// later than it left (a busy machine, the network); a caller that wakes
/// more than [`LATE_SEND`] after its slot takes a fresh one, so the rest of
/// the margin is the network's.
pub const AIRTABLE_CALLS_PER_WINDOW: u32 = 5;
pub const AIRTABLE_WINDOW: Duration = Duration::from_millis(1_040);
/// How late after its reserved slot a call may still go out.
pub const LATE_SEND: Duration = Duration::from_millis(10);
/// Fresh slots a late caller takes before it sends regardless (and warns).
pub const MAX_RESERVATIONS: u32 = 5;
/// A 429 says the vendor saw one call too many in its window: arrivals on
/// this path spread more than the margin allows, so the window widens by
/// this much for the rest of the process's life, up to [`MAX_WIDENING`]
/// (each 429 costs Airtable's 30-second penalty; a wider window costs a
/// few percent of the rate).
pub const WIDENING_PER_429: Duration = Duration::from_millis(20);
pub const MAX_WIDENING: Duration = Duration::from_millis(200);
/// The sustained rate that window allows (for estimates and bounds).
pub const AIRTABLE_RATE_PER_SEC: f64 = 5.0 * 1000.0 / 1040.0;

/// Requests of one write (chunks of records, pages) a caller keeps in flight
/// at once. Each still waits for its slot in the budget, so this never
/// raises the rate; it lets the rate be used when the vendor answers in
/// 150–500 ms: one request at a time reaches at most 1 / latency calls a
/// second, below Airtable's five at 250 ms. Four covers five a second at up
/// to 800 ms per answer.
pub const REQUESTS_IN_FLIGHT: usize = 4;

/// Airtable's per-base limit, five calls in any second, with a margin so
/// that network jitter cannot squeeze six into the vendor's window.
pub fn airtable_pace() -> Pace {
    Pace::Window {
        calls: AIRTABLE_CALLS_PER_WINDOW,
        window: AIRTABLE_WINDOW,
    }
}
