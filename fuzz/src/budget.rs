//! The allocation budget of one fuzz input: a counting global allocator that records the
//! peak of the bytes held by the calling thread while a target runs, so that a decoder
//! which reserves memory for what its input only claims (a count of 2^32 in a 12-byte
//! body) fails the run instead of passing unnoticed.
//!
//! Shared by the cargo-fuzz binaries (`fuzz/src/lib.rs`), the corpus replay in the
//! test suite (`tests/fuzz_corpus.rs`) and the binary formats' allocation tests
//! (`wire/tests/allocation.rs`); the last two include this file by path.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Bytes any input may use, whatever its length: the fixed costs of a decode (error
/// messages, a response, a small runtime's buffers).
pub const BASE_BYTES: usize = 1024 * 1024;
/// Bytes an input may use per byte of its length: decoded values copy their input and
/// add their own bookkeeping (a `String` per key, a vector's doubling).
pub const BYTES_PER_INPUT_BYTE: usize = 64;

/// The allocator that keeps the count.
pub struct Counting;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static HELD: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn count_alloc(size: usize) {
    // `try_with`: the thread's locals may be gone while it exits.
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            let held = HELD.with(|h| {
                let held = h.get().saturating_add(size);
                h.set(held);
                held
            });
            PEAK.with(|p| p.set(p.get().max(held)));
        }
    });
}

fn count_free(size: usize) {
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            HELD.with(|h| h.set(h.get().saturating_sub(size)));
        }
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; the bookkeeping
// only touches const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_alloc(layout.size());
        // SAFETY: the caller's contract for `layout` is passed on as it is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_alloc(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count_free(layout.size());
        // SAFETY: `ptr` was allocated by `System` with `layout` (all allocations are).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_free(layout.size());
        count_alloc(new_size);
        // SAFETY: as for `dealloc`; the caller guarantees `new_size` is valid.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// The most bytes a target may hold at once while it handles `len` bytes of input.
pub fn limit(len: usize) -> usize {
    BASE_BYTES.saturating_add(len.saturating_mul(BYTES_PER_INPUT_BYTE))
}

/// Runs `target` on `data` and returns the peak of the bytes it held at once on this
/// thread.
pub fn peak_of(data: &[u8], target: fn(&[u8])) -> usize {
    HELD.with(|h| h.set(0));
    PEAK.with(|p| p.set(0));
    ARMED.with(|a| a.set(true));
    // Disarmed however the target ends, so that a panic's report is not counted.
    struct Disarm;
    impl Drop for Disarm {
        fn drop(&mut self) {
            let _ = ARMED.try_with(|a| a.set(false));
        }
    }
    let disarm = Disarm;
    target(data);
    drop(disarm);
    PEAK.with(Cell::get)
}

/// Runs `target` on `data` and panics if it held more than [`limit`] bytes at once.
pub fn run_bounded(data: &[u8], target: fn(&[u8])) {
    let peak = peak_of(data, target);
    assert!(
        peak <= limit(data.len()),
        "a {}-byte input made the decoder hold {peak} bytes at once (the bound is {})",
        data.len(),
        limit(data.len())
    );
}
