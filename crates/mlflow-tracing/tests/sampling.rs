//! Sampling: MLFLOW_TRACE_SAMPLING_RATIO, parent-based.

use mlflow_tracing::{Tracing, start_span};

use crate::support::builder;

fn sampled(ratio: &'static str, traces_to_start: usize) -> (usize, Vec<mlflow_tracing::Trace>) {
    let store = mlflow_tracing::testing::InMemoryTraces::new();
    let tracing = builder(&store)
        .with_env(move |k| (k == "MLFLOW_TRACE_SAMPLING_RATIO").then(|| ratio.to_owned()))
        .build()
        .unwrap();
    let mut recorded_roots = 0;
    tracing.in_scope(|| {
        for _ in 0..traces_to_start {
            let root = start_span("root").start();
            let child = start_span("child").start();
            let grandchild = start_span("grandchild").inputs(1).start();
            // Children follow their parent's decision.
            assert_eq!(child.is_recording(), root.is_recording());
            assert_eq!(grandchild.is_recording(), root.is_recording());
            recorded_roots += usize::from(root.is_recording());
        }
    });
    tracing.flush().unwrap();
    (recorded_roots, store.traces())
}

#[test]
fn ratio_zero_records_nothing() {
    let (recorded, traces) = sampled("0", 50);
    assert_eq!(recorded, 0);
    assert!(traces.is_empty());
}

#[test]
fn ratio_one_records_everything() {
    let (recorded, traces) = sampled("1.0", 50);
    assert_eq!((recorded, traces.len()), (50, 50));
}

#[test]
fn a_ratio_keeps_whole_traces() {
    let (recorded, traces) = sampled("0.5", 400);
    assert_eq!(traces.len(), recorded);
    // Binomial(400, 0.5): outside 120..=280 has probability < 1e-15.
    assert!((120..=280).contains(&recorded), "{recorded}");
    assert!(traces.iter().all(|t| t.spans().len() == 3));
}

#[test]
fn an_invalid_ratio_is_a_clear_error() {
    let err = Tracing::builder()
        .with_env(|k| (k == "MLFLOW_TRACE_SAMPLING_RATIO").then(|| "2".to_owned()))
        .destinations_from_config(false)
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid value \"2\" for MLFLOW_TRACE_SAMPLING_RATIO: expected a number between 0.0 and 1.0"
    );
    let err = Tracing::builder()
        .sampling_ratio(-1.0)
        .destinations_from_config(false)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("sampling_ratio"), "{err}");
}
