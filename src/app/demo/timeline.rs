//! The demo's story on stdout: one line per step, saying where the change
//! was made, what it was, and how long the other side took to show it.

use std::time::{Duration, Instant};

/// How long one change may take to reach the other side before the demo
/// calls the step failed (the service normally needs about a second).
/// Longer than Airtable's 30 s lockout after a 429, so a rate limit makes a
/// step slow (and says so) rather than failed.
pub const STEP_DEADLINE: Duration = Duration::from_secs(45);
const POLL_EVERY: Duration = Duration::from_millis(25);

/// Where a change was made, and so which way it has to travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Notion,
    Airtable,
    Both,
}

impl Origin {
    fn arrow(self) -> &'static str {
        match self {
            Origin::Notion => "Notion → Airtable",
            Origin::Airtable => "Airtable → Notion",
            Origin::Both => "both sides       ",
        }
    }
}

/// Prints the timeline and remembers whether every step arrived.
pub struct Timeline {
    started: Instant,
    missed: Vec<String>,
}

impl Timeline {
    pub fn new(started: Instant) -> Self {
        Self {
            started,
            missed: Vec::new(),
        }
    }

    /// One step: `took` is `None` when the other side never showed it.
    pub fn step(&mut self, origin: Origin, what: &str, took: Option<Duration>) {
        let at = self.started.elapsed().as_secs_f64();
        let took = match took {
            Some(d) => format!("{:.2} s", d.as_secs_f64()),
            None => {
                self.missed.push(what.to_owned());
                "MISSED".to_owned()
            }
        };
        println!("  {at:>5.1}s  {}  {took:>7}  {what}", origin.arrow());
    }

    /// A second line explaining the step above.
    pub fn note(&self, text: &str) {
        println!("{:38}{text}", "");
    }

    /// Steps whose change never reached the other side.
    pub fn missed(&self) -> &[String] {
        &self.missed
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// Poll `check` until it holds; how long that took, or `None` after `limit`.
pub async fn until(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if check().await {
            return Some(start.elapsed());
        }
        if start.elapsed() >= limit {
            return None;
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}
