//! A global allocator that records the largest single allocation, for hostile-input tests that
//! must show a loader never allocates beyond its budget.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

static LARGEST: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Const-initialised and without a destructor, so reading it never allocates (which would
    // recurse into the allocator).
    static LARGEST_HERE: Cell<usize> = const { Cell::new(0) };
}

/// Forwards to the system allocator and records the largest request. Install it in a test
/// binary with `#[global_allocator] static A: LargestAllocation = LargestAllocation;`.
///
/// Tests run on several threads at once, so a per-case check should use
/// [`LargestAllocation::reset_here`] and [`LargestAllocation::largest_here`], which see only
/// the calling thread's allocations.
pub struct LargestAllocation;

impl LargestAllocation {
    /// The largest allocation (or reallocation) requested so far in this process, in bytes.
    pub fn largest() -> usize {
        LARGEST.load(Ordering::Relaxed)
    }

    /// The largest allocation requested on this thread since its last
    /// [`LargestAllocation::reset_here`].
    pub fn largest_here() -> usize {
        LARGEST_HERE.with(Cell::get)
    }

    /// Forgets this thread's largest allocation, so the next check measures one case alone.
    pub fn reset_here() {
        LARGEST_HERE.with(|c| c.set(0));
    }
}

fn record(size: usize) {
    LARGEST.fetch_max(size, Ordering::Relaxed);
    // `try_with` fails only while the thread is being torn down; nothing to record then.
    let _ = LARGEST_HERE.try_with(|c| c.set(c.get().max(size)));
}

// SAFETY: every call is forwarded unchanged to `System`; the counters have no effect on memory.
unsafe impl GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
