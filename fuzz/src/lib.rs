//! Shared by Weir's fuzz targets: the allocation budget every input is run under, and
//! the targets themselves as plain functions, so that each binary in `fuzz_targets/` is
//! one line and the corpus replay of the test suite (`tests/fuzz_corpus.rs`) calls the
//! same code. The checks live with the decoders, in each crate's hidden `fuzzing` hooks.

#[path = "budget.rs"]
pub mod budget;
pub mod seeds;
pub mod targets;

#[global_allocator]
static ALLOCATOR: budget::Counting = budget::Counting;
