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
        .library(name: "MoekitFormats", targets: ["IOCore", "Formats", "Conversion"]),
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
        // Platform calls and hot C kernels: file-system primitives, SHA-256, the gzip reader (zlib for its CRC-32).
        .target(name: "CPlatform", linkerSettings: [.linkedLibrary("z")]),
        .target(name: "TensorCore", dependencies: ["COpenBLAS"], swiftSettings: numericSettings),
        // The serialization and IO core: JSON, YAML, JSONL streaming, atomic output, hashing, resource lookup.
        .target(
            name: "IOCore", dependencies: ["TensorCore", "CPlatform", "CZlib", "CJSONC", .product(name: "Yams", package: "Yams")],
            swiftSettings: numericSettings),
        // File formats: GGUF, safetensors (and the Hugging Face directory writer), GGML quantization.
        .target(name: "Formats", dependencies: ["TensorCore", "IOCore", "CPlatform"], swiftSettings: numericSettings),
        // Model conversion: per-family recipes, model sources, GGUF <-> Hugging Face, inspection and comparison.
        .target(name: "Conversion", dependencies: ["TensorCore", "IOCore", "Formats"], swiftSettings: numericSettings),
        .target(name: "Tokenizer", dependencies: ["IOCore", "Conversion"], swiftSettings: numericSettings),
        .target(name: "Runtime", dependencies: ["TensorCore", "IOCore", "Formats", "Conversion"], swiftSettings: numericSettings),
        .target(name: "Evaluation", dependencies: ["TensorCore", "Runtime", "Tokenizer", "IOCore"], swiftSettings: numericSettings),
        .target(name: "Training", dependencies: ["TensorCore", "Runtime", "IOCore", "Formats", "Conversion", "TrainingData"], swiftSettings: numericSettings),
        .target(name: "Transforms", dependencies: ["TensorCore", "IOCore", "Formats", "Conversion", "Runtime"], swiftSettings: numericSettings),
        .target(name: "TrainingData", dependencies: ["TensorCore", "IOCore", "Conversion", "Tokenizer", "CPlatform", "CJSONC"], swiftSettings: numericSettings),
        .executableTarget(
            name: "moekit",
            dependencies: [
                "IOCore", "Formats", "Conversion", "Tokenizer", "Runtime", "Evaluation", "Transforms", "TrainingData", "Training",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "moekit-bench",
            dependencies: ["IOCore", "Formats", "Conversion", "Runtime", "Tokenizer", "Training", "TrainingData", "TensorCore", "CPlatform", "CZlib", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .target(name: "TestSupport", dependencies: ["IOCore", "Formats", "Runtime"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "TestSupport"]),
        .testTarget(name: "FormatsTests", dependencies: ["IOCore", "Formats", "Conversion", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer", "Conversion", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "IOCore", "Formats", "Conversion", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Runtime", "IOCore", "TestSupport"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "IOCore", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "TransformsTests", dependencies: ["Transforms", "IOCore", "Formats", "Conversion", "Runtime", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["IOCore", "Formats", "Conversion", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "TrainingDataTests", dependencies: ["TrainingData", "Tokenizer", "IOCore", "Conversion", "TestSupport", "CPlatform", "CZlib"]),
    ]
)
