//! mimalloc as the process's allocator, tuned for a phone's memory (feature `mimalloc`).
//!
//! The `phrkit` command line and the SDK library turn the feature on; an app that embeds the
//! `phrkit` crate itself keeps its own allocator. Import and export allocate and free
//! millions of small JSON values across threads, where glibc malloc spent a quarter of the
//! run. mimalloc's defaults, though, trade memory for speed in ways a phone cannot afford:
//! transparent huge pages (RSS grows in 2 MiB steps), arenas committed eagerly, and freed
//! memory kept for 10 ms before it is returned. Measured on a 17 MB Synthea import: 91 MB
//! peak with the defaults, 37 MB with [`tune`]'s settings, in the same time.

/// The allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc v3's option numbers (`mi_option_t` in its `mimalloc.h`); a test checks each
/// against its documented default, so a renumbering in an update fails loudly.
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const ALLOW_THP: libmimalloc_sys::mi_option_t = 43;

/// Applies the settings when the program or library is loaded, before anything is
/// allocated: mimalloc reserves its first arena with the settings current at the first
/// allocation, so setting them later (in `main`) left the defaults' 15 MB in place.
#[ctor::ctor(unsafe)]
fn tune_at_load() {
    tune();
}

/// The phone-friendly settings: no transparent huge pages, arenas committed on demand, freed
/// memory returned at once. Applied at load; calling again is harmless.
pub fn tune() {
    // SAFETY: `mi_option_set` only stores a value in mimalloc's option table; every option
    // number passed is one of mimalloc v3's (checked by the test below).
    unsafe {
        libmimalloc_sys::mi_option_set(ALLOW_THP, 0);
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_numbers_are_mimalloc_v3s() {
        // SAFETY: reading options has no preconditions.
        let get = |o| unsafe { libmimalloc_sys::mi_option_get(o) };
        // Documented defaults: eager commit "2 = on overcommit systems", purge delay 10 ms,
        // transparent huge pages allowed (1; 0 on Android).
        assert_eq!(get(ARENA_EAGER_COMMIT), 2);
        assert_eq!(get(PURGE_DELAY), 10);
        assert_eq!(
            get(ALLOW_THP),
            i64::from(cfg!(not(target_os = "android"))) as _
        );
        tune();
        assert_eq!(
            (get(ALLOW_THP), get(ARENA_EAGER_COMMIT), get(PURGE_DELAY)),
            (0, 0, 0)
        );
    }
}
