//! A bounded run of every fuzz target inside the test suite, without cargo-fuzz: each
//! test replays the checked-in corpus of its target (`fuzz/corpus/<target>/`) and the
//! seeds, then a fixed number of seeded random mutations of them, through the same
//! function the fuzzer calls (`fuzz/src/targets.rs`) and under the same allocation budget
//! (`fuzz/src/budget.rs`). Bounded in count; the long runs are `scripts/fuzz`.

// Shared with the fuzz crate, whose modules are public.
#[path = "../fuzz/src/budget.rs"]
#[allow(unreachable_pub)]
mod budget;
#[path = "../fuzz/src/seeds.rs"]
#[allow(unreachable_pub)]
mod seeds;
#[path = "../fuzz/src/targets.rs"]
#[allow(unreachable_pub)]
mod targets;

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::PathBuf;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[global_allocator]
static ALLOCATOR: budget::Counting = budget::Counting;

/// Mutated inputs run per target after the corpus.
const MUTATIONS: usize = 3_000;
/// Longest mutated input, like the fuzzer's default `-max_len`.
const MAX_LEN: usize = 4096;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    let mut inputs: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(!inputs.is_empty(), "{} is empty", dir.display());
    inputs.extend(seeds::seeds(target));
    inputs
}

/// Runs one input, naming it in hex if the target fails on it.
fn run_one(target: &str, f: fn(&[u8]), input: &[u8]) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| budget::run_bounded(input, f))) {
        let hex: String = input.iter().map(|b| format!("{b:02x}")).collect();
        eprintln!("{target} failed on the input {hex}");
        resume_unwind(panic);
    }
}

const INTERESTING: &[u32] = &[0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fff_ffff, 0xffff_ffff];

fn mutate(rng: &mut StdRng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let len = out.len();
        match rng.random_range(0..7) {
            0 if len > 0 => {
                let at = rng.random_range(0..len);
                out[at] ^= 1 << rng.random_range(0..8);
            }
            1 if len > 0 => {
                let at = rng.random_range(0..len);
                out[at] = rng.random();
            }
            2 => {
                let at = rng.random_range(0..=len);
                out.insert(at, rng.random());
            }
            3 if len > 0 => {
                let at = rng.random_range(0..len);
                let end = rng.random_range(at..=len.min(at + 16));
                out.drain(at..end);
            }
            4 if len >= 4 => {
                let at = rng.random_range(0..=len - 4);
                let value = INTERESTING[rng.random_range(0..INTERESTING.len())];
                out[at..at + 4].copy_from_slice(&value.to_le_bytes());
            }
            5 if len > 0 => {
                let at = rng.random_range(0..len);
                let end = rng.random_range(at..=len.min(at + 32));
                let copy = out[at..end].to_vec();
                let to = rng.random_range(0..=len);
                out.splice(to..to, copy);
            }
            _ if !other.is_empty() => {
                let from = rng.random_range(0..other.len());
                let at = rng.random_range(0..=len);
                out.truncate(at);
                out.extend_from_slice(&other[from..]);
            }
            _ => {}
        }
    }
    out.truncate(MAX_LEN);
    out
}

fn replay_and_mutate(target: &str) {
    let f = targets::ALL
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, f)| *f)
        .unwrap();
    let inputs = corpus(target);
    for input in &inputs {
        run_one(target, f, input);
    }
    // Seeded by the target's name: the same mutations on every run.
    let seed = target
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..MUTATIONS {
        let input = &inputs[rng.random_range(0..inputs.len())];
        let other = &inputs[rng.random_range(0..inputs.len())];
        run_one(target, f, &mutate(&mut rng, input, other));
    }
}

#[test]
fn record_corpus_and_mutations() {
    replay_and_mutate("record");
}

#[test]
fn batch_corpus_and_mutations() {
    replay_and_mutate("batch");
}

#[test]
fn message_list_corpus_and_mutations() {
    replay_and_mutate("message_list");
}

#[test]
fn receipt_corpus_and_mutations() {
    replay_and_mutate("receipt");
}

#[test]
fn headers_corpus_and_mutations() {
    replay_and_mutate("headers");
}

#[test]
fn json_bodies_corpus_and_mutations() {
    replay_and_mutate("json_bodies");
}

#[test]
fn a_batch_claiming_more_messages_than_it_holds_reserves_no_memory_for_them() {
    let mut claim = b"WRB1".to_vec();
    claim.extend(10_000u32.to_le_bytes());
    claim.extend([0u8; 4]);
    let peak = budget::peak_of(&claim, targets::batch);
    assert!(
        peak <= budget::limit(claim.len()),
        "a 12-byte batch claiming 10 000 messages held {peak} bytes"
    );
}

#[test]
fn the_allocation_budget_catches_a_decoder_that_trusts_a_claimed_count() {
    fn trusting(data: &[u8]) {
        let count = data.first().map_or(0, |&b| usize::from(b)) << 16;
        let reserved: Vec<u64> = Vec::with_capacity(count);
        std::hint::black_box(reserved);
    }
    assert!(budget::peak_of(&[0], trusting) <= budget::limit(1));
    assert!(budget::peak_of(&[255], trusting) > budget::limit(1));
}

/// `scripts/fuzz seed`: writes the seeds into the checked-in corpus, named by content.
#[test]
#[ignore = "writes fuzz/corpus; run by scripts/fuzz seed"]
fn write_seeds() {
    for (target, _) in targets::ALL {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/corpus")
            .join(target);
        std::fs::create_dir_all(&dir).unwrap();
        for seed in seeds::seeds(target) {
            let name = format!("seed-{:08x}", fnv1a(&seed));
            std::fs::write(dir.join(name), seed).unwrap();
        }
    }
}

fn fnv1a(data: &[u8]) -> u32 {
    data.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}
