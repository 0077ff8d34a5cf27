//! Notification pings (api-facts §3.3): `{"base":{"id"},"webhook":{"id"},"timestamp"}` POSTed
//! to the webhook's `notificationUrl`, signed `X-Airtable-Content-MAC`, through the common
//! [`Deliverer`](crate::common::Deliverer) (drop / duplicate / delay knobs).
//!
//! - Coalescing: while a ping is scheduled and not yet sent, further changes join it; it is
//!   sent `aggregation_window_ms` after the first change.
//! - A ping succeeds on 200 or 204 within 25 s; otherwise it is retried up to 13 times with
//!   exponential backoff from 10 s (scaled by `retry_time_scale`), after which notifications
//!   are disabled (`areNotificationsEnabled:false`). Payloads keep accumulating.
//! - Each attempt updates `lastNotificationResult` (and `lastSuccessfulNotificationTime`).

use std::{sync::Arc, time::Duration};

use serde_json::json;

use super::state::Shared;
use crate::common::{AttemptReport, Delivery, OutboundRequest, RetrySchedule, airtable_time};
use crate::signing::{AIRTABLE_MAC_HEADER, airtable_mac};

const PING_TIMEOUT: Duration = Duration::from_secs(25);

fn accepted(status: u16) -> bool {
    status == 200 || status == 204
}

/// Send `webhook_id` a ping after the aggregation window (its `ping_pending` flag is set).
pub(crate) fn schedule(shared: &Arc<Shared>, base_id: &str, webhook_id: &str) {
    let window = Duration::from_millis(shared.deliverer.knobs().aggregation_window_ms);
    let (shared, base_id, webhook_id) =
        (shared.clone(), base_id.to_string(), webhook_id.to_string());
    shared.runtime.clone().spawn(async move {
        if !window.is_zero() {
            tokio::time::sleep(window).await;
        }
        send_ping(&shared, &base_id, &webhook_id);
    });
}

/// Clear the pending flag and hand the ping to the deliverer, unless the webhook has gone,
/// expired, lost its URL or had its notifications disabled meanwhile.
fn send_ping(shared: &Arc<Shared>, base_id: &str, webhook_id: &str) {
    let now = shared.now();
    let target = {
        let mut store = shared.store();
        let Ok(base) = store.base_mut(base_id) else {
            return;
        };
        let Some(hook) = base.webhooks.iter_mut().find(|h| h.id == webhook_id) else {
            return;
        };
        hook.ping_pending = false;
        match (&hook.notification_url, hook.wants_ping(now)) {
            (Some(url), true) => (url.clone(), hook.mac_secret.clone()),
            _ => return,
        }
    };
    let (url, secret) = target;
    let body = json!({
        "base": {"id": base_id},
        "webhook": {"id": webhook_id},
        "timestamp": airtable_time(now),
    })
    .to_string()
    .into_bytes();
    let Ok(mac) = airtable_mac(&secret, &body) else {
        tracing::warn!(
            webhook_id,
            "webhook secret is not valid base64; ping not sent"
        );
        return;
    };
    let request = OutboundRequest {
        url,
        headers: vec![
            ("content-type".to_string(), "application/json".to_string()),
            (AIRTABLE_MAC_HEADER.to_string(), mac),
        ],
        body,
    };
    let delivery = Delivery::fixed(
        format!("ping {webhook_id}"),
        RetrySchedule::airtable(),
        request,
    )
    .accept(accepted)
    .timeout(PING_TIMEOUT)
    .on_attempt(reporter(shared, base_id, webhook_id, record_attempt))
    .on_final_failure(reporter(shared, base_id, webhook_id, disable_notifications));
    shared.deliverer.send(delivery);
}

type Update = fn(&mut super::webhooks::Webhook, &AttemptReport);

/// A delivery callback applying `update` to the webhook, if it still exists.
fn reporter(
    shared: &Arc<Shared>,
    base_id: &str,
    webhook_id: &str,
    update: Update,
) -> impl Fn(&AttemptReport) + Send + Sync + 'static {
    let (shared, base_id, webhook_id) =
        (shared.clone(), base_id.to_string(), webhook_id.to_string());
    move |report| {
        let mut store = shared.store();
        if let Ok(base) = store.base_mut(&base_id)
            && let Some(hook) = base.webhooks.iter_mut().find(|h| h.id == webhook_id)
        {
            update(hook, report);
        }
    }
}

/// `lastNotificationResult` (model/webhooks-notification).
fn record_attempt(hook: &mut super::webhooks::Webhook, r: &AttemptReport) {
    let mut result = json!({
        "success": r.success,
        "completionTimestamp": airtable_time(r.at),
        "durationMs": r.duration.as_secs_f64() * 1000.0,
        "retryNumber": r.attempt.saturating_sub(1),
        "willBeRetried": r.will_retry,
    });
    if !r.success {
        let message = match (&r.error, r.status) {
            (Some(e), _) => e.clone(),
            (None, Some(s)) => format!("Webhook notification endpoint returned status {s}"),
            (None, None) => "Webhook notification failed".to_string(),
        };
        result["error"] = json!({"message": message});
    } else {
        hook.last_success = Some(r.at);
    }
    hook.last_result = Some(result);
}

/// After the last retry failed, Airtable disables the webhook's notifications.
fn disable_notifications(hook: &mut super::webhooks::Webhook, _r: &AttemptReport) {
    hook.notifications_enabled = false;
}
