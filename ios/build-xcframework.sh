#!/usr/bin/env bash
# Builds PhrKitFFI.xcframework (static libraries for iOS devices, the iOS simulator and
# macOS, with the C header and module map) and generates Sources/PhrKit/PhrKit.swift.
# Runs on a Mac with Xcode and rustup. Usage: ios/build-xcframework.sh [--debug]
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=release
[ "${1:-}" = "--debug" ] && PROFILE=debug
FLAG=$([ "$PROFILE" = release ] && echo --release || true)
OUT=ios/build
IOS_TARGETS=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios)
MAC_TARGETS=(aarch64-apple-darwin x86_64-apple-darwin)
export IPHONEOS_DEPLOYMENT_TARGET=15.0 MACOSX_DEPLOYMENT_TARGET=12.0

rustup target add "${IOS_TARGETS[@]}" "${MAC_TARGETS[@]}"
for t in "${IOS_TARGETS[@]}" "${MAC_TARGETS[@]}"; do
  echo "== cargo build $t ($PROFILE)"
  cargo rustc -p phrkit-ffi --lib --crate-type staticlib $FLAG --target "$t"
done

echo "== uniffi-bindgen generate swift"
cargo build -p phrkit-uniffi-bindgen
rm -rf "$OUT" && mkdir -p "$OUT/headers" "$OUT/ios-sim" "$OUT/macos"
target/debug/uniffi-bindgen generate --no-format --config uniffi.toml \
  --library "target/aarch64-apple-darwin/$PROFILE/libphrkit_ffi.a" --language swift --out-dir "$OUT/generated"
cp "$OUT/generated/PhrKitFFI.h" "$OUT/headers/"
cp "$OUT/generated/PhrKitFFI.modulemap" "$OUT/headers/module.modulemap"
cp "$OUT/generated/PhrKit.swift" ios/Sources/PhrKit/PhrKit.swift

echo "== lipo (simulator, macOS) and xcodebuild -create-xcframework"
lipo -create "target/aarch64-apple-ios-sim/$PROFILE/libphrkit_ffi.a" "target/x86_64-apple-ios/$PROFILE/libphrkit_ffi.a" \
  -output "$OUT/ios-sim/libphrkit_ffi.a"
lipo -create "target/aarch64-apple-darwin/$PROFILE/libphrkit_ffi.a" "target/x86_64-apple-darwin/$PROFILE/libphrkit_ffi.a" \
  -output "$OUT/macos/libphrkit_ffi.a"
rm -rf ios/PhrKitFFI.xcframework
xcodebuild -create-xcframework \
  -library "target/aarch64-apple-ios/$PROFILE/libphrkit_ffi.a" -headers "$OUT/headers" \
  -library "$OUT/ios-sim/libphrkit_ffi.a" -headers "$OUT/headers" \
  -library "$OUT/macos/libphrkit_ffi.a" -headers "$OUT/headers" \
  -output ios/PhrKitFFI.xcframework
echo "ios/PhrKitFFI.xcframework and ios/Sources/PhrKit/PhrKit.swift are ready"
