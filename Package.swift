// swift-tools-version: 6.0
// Attend: efficient Transformers on the CPU. Targets follow docs/architecture.md; arrows there are the
// only imports allowed. Release builds add `-target-cpu native` from the Makefile, not here, so that
// other packages may still depend on Attend (unsafeFlags would forbid it).
import PackageDescription

let package = Package(
    name: "Attend",
    products: [
        .library(name: "AttendCore", targets: ["AttendCore"]),
        .library(name: "AttendTesting", targets: ["AttendTesting"]),
        .library(name: "AttendData", targets: ["AttendData"]),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .target(name: "AttendCore", dependencies: ["COpenBLAS"]),
        .target(name: "AttendTesting", dependencies: ["AttendCore"]),
        .target(name: "AttendData", dependencies: ["AttendCore"]),
        .testTarget(name: "AttendCoreTests", dependencies: ["AttendCore", "AttendTesting"]),
        .testTarget(name: "AttendDataTests", dependencies: ["AttendData", "AttendTesting"]),
    ]
)
