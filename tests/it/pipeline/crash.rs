//! A worker process SIGKILLed in the middle of a job: the job stays
//! `running` under the dead worker's lease until the lease expires, then
//! another worker process reclaims it and completes it, and the half-done
//! work leaves no duplicate row behind.
//!
//! The job is the start-up sweep, made slow by the sandboxes' latency knob
//! (every Airtable call takes 1.5 s, so its five upserts of ten rows take
//! several seconds) and caught with some rows created and not all.

use std::time::{Duration, Instant};

use notion_airtable_sandbox::common::Faults;
use notion_airtable_sync::store::{Job, JobState};

use notion_airtable_sandbox::team::NotionStatus;

use super::support::{Deployment, Options, eventually, free_port};
use crate::common::{TestDb, world::assert_in_sync};

/// The lease every process takes on a job (`JOB_LEASE_SECS`): short, so
/// that the dead worker's job is reclaimed soon.
const LEASE: Duration = Duration::from_secs(3);

pub async fn a_killed_worker_s_job_is_reclaimed_and_completed_once(
    db: TestDb,
    status: NotionStatus,
) {
    let d = Deployment::new(
        db,
        Options {
            status,
            lease_secs: Some(LEASE.as_secs()),
            ..Options::default()
        },
    )
    .await;
    let _api = d.spawn("api", d.port);
    d.ready(30).await;
    d.w.notion.set_faults(slow(300));
    d.w.airtable.set_faults(slow(1_500));
    let mut first = d.spawn("worker", free_port());

    // Half way: some rows created, not all.
    let total = d.w.team_n.page_ids.len();
    let caught = eventually(50, "the sweep half way", async || {
        let rows = d.w.rows().len();
        if rows == 0 || rows == total {
            return None;
        }
        let running = d.jobs(JobState::Running).await;
        (!running.is_empty()).then_some(running)
    })
    .await;
    first.assert_running();
    first.kill();
    let killed = Instant::now();
    eprintln!(
        "killed the worker with {:?} running, {} of {total} rows created",
        keys(&caught),
        d.w.rows().len()
    );
    // The rest need not be slow.
    d.w.notion.set_faults(slow(0));
    d.w.airtable.set_faults(slow(0));
    let _second = d.spawn("worker", free_port());

    // Reclaimed only once the lease has run out, then completed.
    for job in &caught {
        let (done, merged) =
            eventually(LEASE.as_secs() + 30, "the reclaimed job done", async || {
                match d.store.get_job(job.id).await.ok()? {
                    Some(j) => (j.state == JobState::Done).then_some((j, false)),
                    // Reclaimed, then put back (a payload drain waits for the
                    // reclaimed sweep) while a new ping had queued its key
                    // again: the queue merged it into that pending job, which
                    // carries its work.
                    None => d
                        .store
                        .list_jobs(Some(JobState::Done), 10_000)
                        .await
                        .ok()?
                        .into_iter()
                        .find(|j| j.key == job.key && j.id > job.id)
                        .map(|j| (j, true)),
                }
            })
            .await;
        let started = done.started_at.unwrap();
        let lease_end = job.locked_until.unwrap();
        assert!(
            started >= lease_end,
            "job {} reclaimed at {started}, before its lease ended at {lease_end}",
            job.id
        );
        if !merged {
            assert_eq!(done.attempts, job.attempts + 1, "reclaimed once: {done:?}");
        }
    }
    eprintln!(
        "reclaimed and completed {:?} after the kill",
        killed.elapsed()
    );
    d.idle(Duration::from_secs(2), 30).await;
    d.assert_no_dead_jobs().await;
    d.assert_one_row_per_page();
    assert_in_sync(&d.w);
}

fn slow(latency_ms: u64) -> Faults {
    Faults {
        latency_ms,
        ..Faults::default()
    }
}

fn keys(jobs: &[Job]) -> Vec<&str> {
    jobs.iter().map(|j| j.key.as_str()).collect()
}
