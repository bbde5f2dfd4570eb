//! An in-memory destination, for tests.

use std::sync::Arc;

use super::{CompletedTrace, Destination, ExportError};
use crate::testing::InMemoryTraces;

#[derive(Debug)]
pub(crate) struct MemoryDestination {
    store: InMemoryTraces,
}

impl MemoryDestination {
    pub(crate) fn new(store: InMemoryTraces) -> Self {
        MemoryDestination { store }
    }
}

impl Destination for MemoryDestination {
    fn describe(&self) -> String {
        "in-memory traces".to_owned()
    }

    fn export(&mut self, traces: &[Arc<CompletedTrace>]) -> Result<(), ExportError> {
        self.store.push(traces.iter().map(|t| (**t).clone()));
        Ok(())
    }
}
