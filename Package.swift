// swift-tools-version: 6.0
// Attend: efficient Transformers on the CPU. Targets follow docs/architecture.md; arrows there are the
// only imports allowed. Release builds add `-target-cpu native` from the Makefile, not here, so that
// other packages may still depend on Attend (unsafeFlags would forbid it).
import PackageDescription

let package = Package(
    name: "Attend",
    products: [
        .library(name: "AttendCore", targets: ["AttendCore"]),
        .library(name: "AttendNN", targets: ["AttendNN"]),
        .library(name: "AttendAttention", targets: ["AttendAttention"]),
        .library(name: "AttendModels", targets: ["AttendModels"]),
        .library(name: "AttendData", targets: ["AttendData"]),
        .library(name: "AttendTrain", targets: ["AttendTrain"]),
        .library(name: "AttendTesting", targets: ["AttendTesting"]),
        .executable(name: "attend", targets: ["attend"]),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .target(name: "AttendCore", dependencies: ["COpenBLAS"]),
        .target(name: "AttendNN", dependencies: ["AttendCore"]),
        .target(name: "AttendAttention", dependencies: ["AttendNN"]),
        .target(name: "AttendModels", dependencies: ["AttendAttention"]),
        .target(name: "AttendData", dependencies: ["AttendCore"]),
        .target(name: "AttendTrain", dependencies: ["AttendModels", "AttendData"]),
        .target(name: "AttendTesting", dependencies: ["AttendCore"]),
        .executableTarget(name: "attend", dependencies: ["AttendTrain"]),
        .testTarget(
            name: "AttendCoreTests", dependencies: ["AttendCore", "AttendTesting"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "AttendNNTests", dependencies: ["AttendNN", "AttendTesting"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "AttendAttentionTests", dependencies: ["AttendAttention", "AttendTesting"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "AttendDataTests", dependencies: ["AttendData", "AttendTesting"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "AttendModelsTests",
            dependencies: ["AttendModels", "AttendData", "AttendTesting"],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "AttendTrainTests", dependencies: ["AttendTrain", "AttendTesting"]),
        .testTarget(name: "AttendCommandLineTests", dependencies: ["attend"]),
    ]
)
