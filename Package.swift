// swift-tools-version: 6.0
import PackageDescription

/// Hot numeric targets get the F16C/AVX2 instruction set: Float16 <-> Float conversion is ~7x faster with it
/// (F16C's VCVTPH2PS/VCVTPS2PH instead of a software conversion). The machines this project runs on are Zen 3
/// (AVX2 + FMA + F16C).
let numericSettings: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-mf16c", "-Xcc", "-mavx2", "-Xcc", "-mfma", "-target-cpu", "haswell"])]

let package = Package(
    name: "moekit",
    products: [
        .executable(name: "moekit", targets: ["moekit"]),
        .executable(name: "moekit-bench", targets: ["moekit-bench"]),
        .library(name: "MoekitFormats", targets: ["Formats"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS",
            path: "Sources/COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CJSONC", path: "Sources/CJSONC", pkgConfig: "json-c", providers: [.apt(["libjson-c-dev"])]),
        .target(name: "CPlatform"),
        .target(name: "TensorCore", dependencies: ["COpenBLAS"], swiftSettings: numericSettings),
        .target(
            name: "Formats", dependencies: ["TensorCore", "CPlatform", "CZlib", "CJSONC", .product(name: "Yams", package: "Yams")],
            swiftSettings: numericSettings),
        .target(name: "Tokenizer", dependencies: ["Formats"], swiftSettings: numericSettings),
        .target(name: "Runtime", dependencies: ["TensorCore", "Formats"], swiftSettings: numericSettings),
        .target(name: "Evaluation", dependencies: ["TensorCore", "Runtime", "Tokenizer", "Formats"], swiftSettings: numericSettings),
        .target(name: "Training", dependencies: ["TensorCore", "Runtime", "Formats", "TrainingData"], swiftSettings: numericSettings),
        .target(name: "Transforms", dependencies: ["TensorCore", "Formats", "Runtime"], swiftSettings: numericSettings),
        .target(name: "TrainingData", dependencies: ["TensorCore", "Formats", "Tokenizer", "CPlatform", "CZlib", "CJSONC"], swiftSettings: numericSettings),
        .executableTarget(
            name: "moekit",
            dependencies: [
                "Formats", "Tokenizer", "Runtime", "Evaluation", "Transforms", "TrainingData", "Training",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "moekit-bench",
            dependencies: ["Formats", "Runtime", "Tokenizer", "Training", "TrainingData", "TensorCore", "CZlib", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .target(name: "TestSupport", dependencies: ["Formats", "Runtime"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "TestSupport"]),
        .testTarget(name: "FormatsTests", dependencies: ["Formats", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Runtime", "TestSupport"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "TransformsTests", dependencies: ["Transforms", "Formats", "Runtime", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["Formats", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "TrainingDataTests", dependencies: ["TrainingData", "Tokenizer", "Formats", "TestSupport"]),
    ]
)
