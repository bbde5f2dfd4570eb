//! Unit tests of the translation; the comparison with MLflow's own store on the same
//! spans is in `crates/mlflow-trace-cli/tests/real_parity.rs`.
