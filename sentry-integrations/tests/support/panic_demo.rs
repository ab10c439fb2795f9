// The panic example (`examples/panic.rs`) as a binary target, so the
// integration test can run it as a child process through
// `CARGO_BIN_EXE_panic-demo`. `include!` keeps the example's file name and
// line numbers in the debug info.
include!("../../../examples/panic.rs");
