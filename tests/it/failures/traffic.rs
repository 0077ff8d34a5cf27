//! Webhook traffic the way Notion produces it: a person renames a page,
//! then the signed event is delivered; what is not acknowledged with 2xx is
//! retried later with the same event id and body (Notion's redelivery).
//! Every delivery's answer is kept, so tests can say which events were
//! acknowledged, when, and what the service answered while it was down.

use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::task::JoinHandle;

use super::harness::{Sandboxes, deliver, eventually, page_event};

/// One event sent (and perhaps redelivered).
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub page_id: String,
    pub body: Vec<u8>,
    pub acked: bool,
}

/// One delivery attempt: when it started and ended, and the answer.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    pub started: Instant,
    pub ended: Instant,
    /// `None`: no HTTP answer (connection refused or reset).
    pub status: Option<u16>,
}

#[derive(Default)]
pub struct Ledger {
    pub events: Vec<Event>,
    pub attempts: Vec<Attempt>,
}

impl Ledger {
    pub fn acked_ids(&self) -> HashSet<String> {
        self.events
            .iter()
            .filter(|e| e.acked)
            .map(|e| e.id.clone())
            .collect()
    }

    pub fn all_ids(&self) -> HashSet<String> {
        self.events.iter().map(|e| e.id.clone()).collect()
    }

    pub fn pages(&self) -> HashSet<String> {
        self.events.iter().map(|e| e.page_id.clone()).collect()
    }
}

/// Senders renaming pages and delivering events until stopped.
pub struct Traffic {
    pub ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
}

/// The name the `n`-th edit of `page_id` gives it.
pub fn name_for(page_id: &str, n: usize) -> String {
    format!("Spec {} v{n}", &page_id[..8])
}

impl Traffic {
    /// `senders` tasks, each owning `pages_each` of the team's pages (so
    /// that one page's edits are made in order), pausing `pause` between
    /// events.
    pub fn start(
        sb: &Arc<Sandboxes>,
        url: &str,
        secret: &str,
        senders: usize,
        pages_each: usize,
        pause: Duration,
    ) -> Self {
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..senders)
            .map(|i| {
                let pages: Vec<String> =
                    sb.team_n.page_ids[i * pages_each..(i + 1) * pages_each].to_vec();
                let (sb, ledger, stop) = (Arc::clone(sb), Arc::clone(&ledger), Arc::clone(&stop));
                let (url, secret) = (url.to_owned(), secret.to_owned());
                tokio::spawn(async move {
                    let http = reqwest::Client::new();
                    let mut n = 0;
                    while !stop.load(Ordering::SeqCst) {
                        let page_id = &pages[n % pages.len()];
                        n += 1;
                        sb.rename_page(page_id, &name_for(page_id, n));
                        let id = uuid::Uuid::new_v4().to_string();
                        let body = page_event(&sb, &id, page_id);
                        let started = Instant::now();
                        let status = deliver(&http, &url, &secret, &body).await;
                        let status = status.map(|s| s.as_u16());
                        {
                            let mut l = ledger.lock().unwrap();
                            l.attempts.push(Attempt {
                                started,
                                ended: Instant::now(),
                                status,
                            });
                            l.events.push(Event {
                                id,
                                page_id: page_id.clone(),
                                body,
                                acked: status.is_some_and(|s| (200..300).contains(&s)),
                            });
                        }
                        tokio::time::sleep(pause).await;
                    }
                })
            })
            .collect();
        Traffic {
            ledger,
            stop,
            tasks,
        }
    }

    /// Stop sending new events; wait for the senders to finish.
    pub async fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for task in self.tasks.drain(..) {
            task.await.unwrap();
        }
    }

    /// Redeliver every unacknowledged event until it is acknowledged, as
    /// the vendor would (same id, same body), failing after `secs`.
    pub async fn redeliver_unacked(&self, url: &str, secret: &str, secs: u64) {
        let http = reqwest::Client::new();
        eventually(secs, "every event acknowledged", async || {
            let pending: Vec<(usize, Vec<u8>)> = {
                let l = self.ledger.lock().unwrap();
                l.events
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| !e.acked)
                    .map(|(i, e)| (i, e.body.clone()))
                    .collect()
            };
            for (i, body) in pending {
                let started = Instant::now();
                let status = deliver(&http, url, secret, &body).await.map(|s| s.as_u16());
                let mut l = self.ledger.lock().unwrap();
                l.attempts.push(Attempt {
                    started,
                    ended: Instant::now(),
                    status,
                });
                if status.is_some_and(|s| (200..300).contains(&s)) {
                    l.events[i].acked = true;
                }
                drop(l);
            }
            let l = self.ledger.lock().unwrap();
            l.events.iter().all(|e| e.acked).then_some(())
        })
        .await;
    }

    /// Answers other than 2xx, 503 or "no answer": none are expected.
    pub fn unexpected_statuses(&self) -> Vec<u16> {
        let l = self.ledger.lock().unwrap();
        l.attempts
            .iter()
            .filter_map(|a| a.status)
            .filter(|s| !(200..300).contains(s) && *s != 503)
            .collect()
    }
}

/// Every page the traffic touched shows its Notion name in Airtable, in
/// exactly one row (nothing lost, nothing duplicated).
pub async fn converged(sb: &Sandboxes, pages: &HashSet<String>, secs: u64) {
    eventually(secs, "every renamed page's name in Airtable", async || {
        pages
            .iter()
            .all(|p| sb.airtable_name(p).as_deref() == Some(sb.notion_name(p).as_str()))
            .then_some(())
    })
    .await;
    assert_eq!(sb.rows().len(), 47, "no row created twice");
}
