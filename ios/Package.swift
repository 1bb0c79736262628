// swift-tools-version:5.9
// PhrKit: the Swift SDK of phrkit. `PhrKitFFI.xcframework` (the Rust library for iOS devices,
// the iOS simulator and macOS) and `Sources/PhrKit/PhrKit.swift` (the generated bindings) are
// build outputs of `./build-xcframework.sh`, not committed; run it first (see README.md).
import PackageDescription

let package = Package(
    name: "PhrKit",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "PhrKit", targets: ["PhrKit"]),
    ],
    targets: [
        .binaryTarget(name: "PhrKitFFI", path: "PhrKitFFI.xcframework"),
        .target(name: "PhrKit", dependencies: ["PhrKitFFI"], path: "Sources/PhrKit"),
        .testTarget(name: "PhrKitTests", dependencies: ["PhrKit"], path: "Tests/PhrKitTests"),
    ]
)
