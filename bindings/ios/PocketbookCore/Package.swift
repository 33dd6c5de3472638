// swift-tools-version:5.9
// The Swift package an iOS app adds (File > Add Package Dependencies > Add
// Local..., or `.package(path: ".../bindings/ios/PocketbookCore")`).
// bindings/ios/build-ios fills in the two generated parts first:
// PocketbookCoreFFI.xcframework (the static core library with its C header
// and module map) and Sources/PocketbookCore/PocketbookCore.swift.
import PackageDescription

let package = Package(
    name: "PocketbookCore",
    platforms: [.iOS(.v15)],
    products: [
        .library(name: "PocketbookCore", targets: ["PocketbookCore"]),
    ],
    targets: [
        .binaryTarget(
            name: "PocketbookCoreFFI",
            path: "PocketbookCoreFFI.xcframework"
        ),
        .target(
            name: "PocketbookCore",
            dependencies: ["PocketbookCoreFFI"],
            path: "Sources/PocketbookCore",
            linkerSettings: [
                // rustls-platform-verifier checks server certificates with
                // the system trust store.
                .linkedFramework("Security"),
            ]
        ),
    ]
)
