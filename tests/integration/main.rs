//! zcsim's integration tests, built as one binary (one link, one run). Each module covers one
//! layer seen from outside its crate.

mod cli;
mod engine;
mod experiments;
