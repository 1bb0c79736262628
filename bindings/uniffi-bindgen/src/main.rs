//! The UniFFI binding generator, built from the same uniffi version as `phrkit-ffi`:
//! `cargo run -q --bin uniffi-bindgen -- generate --library target/debug/libphrkit_ffi.so
//! --language kotlin --out-dir target/bindings/kotlin`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
