//! The line of the `panic!` in `examples/panic.rs`, found by its marker
//! comment, for the tests that run the example as a child process
//! (`#[path = "support/panic_line.rs"] mod panic_line;`).

/// The 1-based line of the example's `panic!`.
pub fn panic_line() -> u64 {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/panic.rs");
    let source = std::fs::read_to_string(path).expect("examples/panic.rs is readable");
    let index = source
        .lines()
        .position(|l| l.contains("panic!(") && l.contains("// PANIC-LINE"))
        .expect("the marker comment is in examples/panic.rs");
    index as u64 + 1
}
