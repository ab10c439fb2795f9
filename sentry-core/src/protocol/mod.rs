pub mod lenient;
