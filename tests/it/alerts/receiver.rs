//! A local alert receiver: an axum server that keeps every JSON body
//! posted to `/hooks/{KEY}`, and can be started late (down, then up) on
//! the port its URL names.

use std::sync::{Arc, Mutex};

use axum::{Json, Router, extract::State, routing::post};
use serde_json::Value;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

use crate::common::wait::free_port;

/// The secret part of the receiver's URL (as in a Slack webhook URL).
pub const KEY: &str = "T000SECRETKEY/B000SECRETKEY";

type Bodies = Arc<Mutex<Vec<Value>>>;

pub struct Receiver {
    port: u16,
    bodies: Bodies,
    server: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl Receiver {
    /// Listening now.
    pub async fn start() -> Receiver {
        let mut receiver = Receiver::down();
        receiver.up().await;
        receiver
    }

    /// Its port chosen, nothing listening yet.
    pub fn down() -> Receiver {
        Receiver {
            port: free_port(),
            bodies: Arc::default(),
            server: None,
        }
    }

    /// Start listening on its port.
    pub async fn up(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("bind the receiver's port");
        let app = Router::new()
            .route(&format!("/hooks/{KEY}"), post(keep))
            .with_state(self.bodies.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .expect("the receiver runs");
        });
        self.server = Some((stop, task));
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/{KEY}", self.port)
    }

    /// Every body received, in order.
    pub fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some((stop, task)) = self.server.take() {
            let _ = stop.send(());
            task.abort();
        }
    }
}

async fn keep(State(bodies): State<Bodies>, Json(body): Json<Value>) -> &'static str {
    bodies.lock().unwrap().push(body);
    "ok"
}
