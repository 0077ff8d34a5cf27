//! The engine's undo handed to the HTTP layer ([`crate::http::undo::UndoPort`]):
//! the pairs as the running service has them resolved now, and an engine
//! whose clients wait out a rate-limit pause (an undo is not a job the
//! runner could put back).

use std::{future::Future, pin::Pin, sync::Arc};

use crate::{
    engine::{Engine, new_run_id},
    http::undo::UndoPort,
    store::LogSelection,
    sync::undo::UndoReport,
    worker::service::SyncService,
};

pub struct ServiceUndo {
    pub engine: Engine,
    pub service: Arc<SyncService>,
}

impl std::fmt::Debug for ServiceUndo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceUndo")
    }
}

impl UndoPort for ServiceUndo {
    fn undo(
        &self,
        selection: LogSelection,
        dry_run: bool,
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<UndoReport>> + Send>> {
        // Each undo is a run of its own.
        let engine = self.engine.with_run(new_run_id());
        let pairs = self.service.pairs();
        Box::pin(async move { engine.undo(&pairs, &selection, dry_run).await })
    }
}
