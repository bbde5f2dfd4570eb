//! Trace-level API: updating the current trace and finding trace ids.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use super::context::get_current_active_span;
use crate::model::{TraceUpdate, UpdateTraceError};

/// Updates the trace of the current span: tags, metadata, session, user, client request
/// id, previews, state. Applied when the trace is exported; tags and metadata set later
/// win.
pub fn update_current_trace(update: TraceUpdate) -> Result<(), UpdateTraceError> {
    match get_current_active_span() {
        Some(span) => span.update_trace(update),
        None => Err(UpdateTraceError::NoActiveSpan),
    }
}

static LAST_ACTIVE: Mutex<Option<Arc<str>>> = Mutex::new(None);

thread_local! {
    static LAST_ACTIVE_IN_THREAD: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
}

pub(super) fn set_last_active_trace_id(trace_id: &Arc<str>) {
    if let Ok(mut last) = LAST_ACTIVE.lock() {
        *last = Some(trace_id.clone());
    }
    let _ = LAST_ACTIVE_IN_THREAD.try_with(|last| *last.borrow_mut() = Some(trace_id.clone()));
}

/// The id (`tr-…`) of the trace whose root span ended last, in any thread.
pub fn get_last_active_trace_id() -> Option<String> {
    LAST_ACTIVE
        .lock()
        .ok()
        .and_then(|last| last.as_deref().map(str::to_owned))
}

/// The id of the trace whose root span ended last on this thread.
pub fn get_last_active_trace_id_in_thread() -> Option<String> {
    LAST_ACTIVE_IN_THREAD
        .try_with(|last| last.borrow().as_deref().map(str::to_owned))
        .ok()
        .flatten()
}
