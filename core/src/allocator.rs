//! mimalloc as the process's allocator, tuned for a phone's memory (feature `mimalloc`).
//!
//! The `phrkit` command line and the SDK library turn the feature on; an app that embeds the
//! `phrkit` crate itself keeps its own allocator. Import and export allocate and free
//! millions of small JSON values across threads, where glibc malloc spent a quarter of the
//! run. Two of mimalloc's defaults, though, trade memory for speed in ways a phone cannot
//! afford: transparent huge pages (RSS grows in 2 MiB steps) and arenas committed eagerly.
//! Measured on a 17 MB Synthea import: 91 MB peak with the defaults, 56 MB without them, in
//! the same time. (Returning freed memory at once, `purge_delay = 0`, saved another 3 MB on a
//! 282 MB import but made it 40 % slower, from madvise calls and TLB shootdowns: not worth it.)

/// The allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc v3's option numbers (`mi_option_t` in its `mimalloc.h`); a test checks each
/// against its documented default, so a renumbering in an update fails loudly.
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
const ALLOW_THP: libmimalloc_sys::mi_option_t = 43;

/// Applies the settings when the program or library is loaded, before anything is
/// allocated: mimalloc reserves its first arena with the settings current at the first
/// allocation, so setting them later (in `main`) left the defaults' 15 MB in place.
#[ctor::ctor(unsafe)]
fn tune_at_load() {
    tune();
}

/// The phone-friendly settings: no transparent huge pages, arenas committed on demand.
/// mimalloc's own environment variables (`MIMALLOC_ALLOW_THP`, `MIMALLOC_ARENA_EAGER_COMMIT`)
/// still win, for measuring. Applied at load; calling again is harmless.
pub fn tune() {
    for (option, env) in [
        (ALLOW_THP, "MIMALLOC_ALLOW_THP"),
        (ARENA_EAGER_COMMIT, "MIMALLOC_ARENA_EAGER_COMMIT"),
    ] {
        if std::env::var_os(env).is_none() {
            // SAFETY: `mi_option_set` only stores a value in mimalloc's option table; every
            // option number passed is one of mimalloc v3's (checked by the test below).
            unsafe { libmimalloc_sys::mi_option_set(option, 0) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_are_applied_at_load_and_the_option_numbers_are_mimalloc_v3s() {
        // SAFETY: reading options has no preconditions.
        let get = |o| unsafe { libmimalloc_sys::mi_option_get(o) };
        // Applied before this test ran, by the load-time constructor.
        assert_eq!((get(ALLOW_THP), get(ARENA_EAGER_COMMIT)), (0, 0));
        // The numbering around ours, by documented defaults: `arena_reserve` (23) 1 GiB in
        // KiB, `retry_on_oom` (27) 400 ms, `page_full_retain` (36) 2, `page_max_candidates`
        // (37) 4, `page_max_reclaim` (41) unlimited, `arena_max_object_size` (45) 2 GiB in KiB.
        let around = [23, 27, 36, 37, 41, 45].map(get);
        assert_eq!(around, [1 << 20, 400, 2, 4, -1, 2 << 20]);
    }
}
