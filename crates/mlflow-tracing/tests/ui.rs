//! Compile-time behaviour of `#[trace]`: what must compile, and readable errors for what
//! must not.

#![allow(clippy::unwrap_used)]

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
