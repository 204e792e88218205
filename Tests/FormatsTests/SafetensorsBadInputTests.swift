import Foundation
import Testing
import TestSupport
@testable import Conversion
@testable import Formats
@testable import IOCore

private typealias S = SafetensorsTestSupport

/// One malformed file and the error case it must produce.
struct BadSafetensorsCase: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let matches: @Sendable (SafetensorsError) -> Bool
    var testDescription: String { name }
}

private func entry(_ name: String, _ dtype: String, _ shape: String, _ begin: Int, _ end: Int) -> String {
    #""\#(name)":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":[\#(begin),\#(end)]}"#
}

private func header(_ entries: String...) -> String { "{" + entries.joined(separator: ",") + "}" }

private func zeros(_ n: Int) -> [UInt8] { [UInt8](repeating: 0, count: n) }

/// The reference reader's errors (`SafeTensorError` in huggingface/safetensors `safetensors/src/tensor.rs`), one
/// case each.
let badSafetensorsCases: [BadSafetensorsCase] = [
    .init(name: "empty file", bytes: []) { if case .fileTooSmall(_, 0) = $0 { true } else { false } },
    .init(name: "5-byte file", bytes: [1, 2, 3, 4, 5]) { if case .fileTooSmall(_, 5) = $0 { true } else { false } },
    .init(name: "N huge (0xFF bytes)", bytes: [UInt8](repeating: 0xFF, count: 16)) {
        if case .headerTooLarge = $0 { true } else { false }
    },
    .init(name: "N just over the 100 MB limit", bytes: S.file(header: "{}", declaredLength: 100_000_001)) {
        if case .headerTooLarge(_, 100_000_001) = $0 { true } else { false }
    },
    .init(name: "8+N beyond the file", bytes: S.file(header: "{}", declaredLength: 3)) {
        if case .headerBeyondFile(_, 3, 10) = $0 { true } else { false }
    },
    .init(name: "N at the limit but beyond the file", bytes: S.file(header: "{}", declaredLength: 100_000_000)) {
        if case .headerBeyondFile = $0 { true } else { false }
    },
    .init(name: "invalid UTF-8", bytes: S.file(headerBytes: Array(#"{"a"#.utf8) + [0xFF, 0xFE] + Array(#"":{}}"#.utf8))) {
        if case .headerNotUTF8 = $0 { true } else { false }
    },
    .init(name: "invalid UTF-8 outside strings", bytes: S.file(headerBytes: [0x7B, 0xC3, 0x7D])) {
        if case .headerNotUTF8 = $0 { true } else { false }
    },
    .init(name: "not JSON", bytes: S.file(header: #"{"a":"#)) { if case .headerNotJSON = $0 { true } else { false } },
    .init(name: "empty header", bytes: S.file(header: "")) { if case .headerNotJSON = $0 { true } else { false } },
    .init(name: "JSON not an object", bytes: S.file(header: "[1,2]")) {
        if case .headerNotObject(_, "array") = $0 { true } else { false }
    },
    .init(name: "unknown dtype", bytes: S.file(header: header(entry("w", "F33", "[1]", 0, 4)), data: zeros(4))) {
        if case .unknownDType(_, "w", "F33") = $0 { true } else { false }
    },
    .init(name: "lower-case dtype", bytes: S.file(header: header(entry("w", "f32", "[1]", 0, 4)), data: zeros(4))) {
        if case .unknownDType(_, "w", "f32") = $0 { true } else { false }
    },
    .init(name: "known but unsupported dtype (F8_E4M3)", bytes: S.file(header: header(entry("w", "F8_E4M3", "[1]", 0, 1)), data: zeros(1))) {
        if case .unsupportedDType(_, "w", "F8_E4M3") = $0 { true } else { false }
    },
    .init(name: "dtype not a string", bytes: S.file(header: #"{"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}"#, data: zeros(4))) {
        if case .invalidEntry(_, "w", "dtype", _) = $0 { true } else { false }
    },
    .init(name: "missing dtype", bytes: S.file(header: #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, data: zeros(4))) {
        if case .invalidEntry(_, "w", "dtype", _) = $0 { true } else { false }
    },
    .init(name: "missing shape", bytes: S.file(header: #"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#, data: zeros(4))) {
        if case .invalidEntry(_, "w", "shape", _) = $0 { true } else { false }
    },
    .init(name: "missing data_offsets", bytes: S.file(header: #"{"w":{"dtype":"F32","shape":[1]}}"#, data: zeros(4))) {
        if case .invalidEntry(_, "w", "data_offsets", _) = $0 { true } else { false }
    },
    .init(name: "negative shape", bytes: S.file(header: header(entry("w", "F32", "[-1]", 0, 4)), data: zeros(4))) {
        if case .invalidEntry(_, "w", "shape", _) = $0 { true } else { false }
    },
    .init(name: "non-integer shape", bytes: S.file(header: header(entry("w", "F32", "[1.5]", 0, 4)), data: zeros(4))) {
        if case .invalidEntry(_, "w", "shape", _) = $0 { true } else { false }
    },
    .init(name: "float-written integer shape (1.0)", bytes: S.file(header: header(entry("w", "F32", "[1.0]", 0, 4)), data: zeros(4))) {
        if case .invalidEntry(_, "w", "shape", _) = $0 { true } else { false }
    },
    .init(name: "shape not an array", bytes: S.file(header: header(entry("w", "F32", "\"1\"", 0, 4)), data: zeros(4))) {
        if case .invalidEntry(_, "w", "shape", _) = $0 { true } else { false }
    },
    .init(name: "data_offsets with three values", bytes: S.file(header: #"{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}}"#, data: zeros(1))) {
        if case .invalidEntry(_, "w", "data_offsets", _) = $0 { true } else { false }
    },
    .init(name: "negative data_offsets", bytes: S.file(header: header(entry("w", "U8", "[1]", -1, 0)), data: zeros(1))) {
        if case .invalidEntry(_, "w", "data_offsets", _) = $0 { true } else { false }
    },
    .init(name: "entry not an object", bytes: S.file(header: #"{"w":[1,2]}"#)) {
        if case .invalidEntry(_, "w", "entry", _) = $0 { true } else { false }
    },
    .init(name: "__metadata__ value not a string", bytes: S.file(header: #"{"__metadata__":{"format":"pt","n":1}}"#)) {
        if case .invalidMetadata(_, "n", _) = $0 { true } else { false }
    },
    .init(name: "__metadata__ not an object", bytes: S.file(header: #"{"__metadata__":"pt"}"#)) {
        if case .invalidMetadata(_, nil, _) = $0 { true } else { false }
    },
    .init(name: "first begin ≠ 0", bytes: S.file(header: header(entry("w", "U8", "[2]", 1, 3)), data: zeros(3))) {
        if case .invalidOffsets(_, "w", 1, 3, 0) = $0 { true } else { false }
    },
    .init(name: "gap between tensors", bytes: S.file(header: header(entry("a", "U8", "[2]", 0, 2), entry("b", "U8", "[2]", 3, 5)), data: zeros(5))) {
        if case .invalidOffsets(_, "b", 3, 5, 2) = $0 { true } else { false }
    },
    .init(name: "overlapping tensors", bytes: S.file(header: header(entry("a", "U8", "[2]", 0, 2), entry("b", "U8", "[2]", 1, 3)), data: zeros(3))) {
        if case .invalidOffsets(_, "b", 1, 3, 2) = $0 { true } else { false }
    },
    .init(name: "two names on the same bytes", bytes: S.file(header: header(entry("a", "U8", "[2]", 0, 2), entry("b", "U8", "[2]", 0, 2)), data: zeros(2))) {
        if case .invalidOffsets(_, _, 0, 2, 2) = $0 { true } else { false }
    },
    .init(name: "end < begin", bytes: S.file(header: header(entry("a", "U8", "[2]", 0, 2), entry("b", "U8", "[0]", 2, 1)), data: zeros(2))) {
        if case .invalidOffsets(_, "b", 2, 1, 2) = $0 { true } else { false }
    },
    .init(name: "byte size ≠ shape × dtype", bytes: S.file(header: header(entry("w", "F32", "[2,3]", 0, 12)), data: zeros(12))) {
        if case .sizeMismatch(_, "w", [2, 3], "F32", 0, 12, 24) = $0 { true } else { false }
    },
    .init(name: "shape product overflow [2^40, 2^40]", bytes: S.file(header: header(entry("w", "F32", "[1099511627776,1099511627776]", 0, 4)), data: zeros(4))) {
        if case .sizeOverflow(_, "w", _) = $0 { true } else { false }
    },
    .init(name: "byte count overflow [2^62] × F32", bytes: S.file(header: header(entry("w", "F32", "[4611686018427387904]", 0, 4)), data: zeros(4))) {
        if case .sizeOverflow(_, "w", _) = $0 { true } else { false }
    },
    .init(name: "end offset so large that 8+N+end overflows", bytes: S.file(header: header(entry("w", "U8", "[9223372036854775807]", 0, Int(Int64.max))))) {
        if case .dataLengthMismatch = $0 { true } else { false }
    },
    .init(name: "trailing bytes after the last tensor", bytes: S.file(header: header(entry("w", "U8", "[2]", 0, 2)), data: zeros(3))) {
        if case .dataLengthMismatch(_, let expected, let actual) = $0 { actual == expected + 1 } else { false }
    },
    .init(name: "short data", bytes: S.file(header: header(entry("w", "U8", "[4]", 0, 4)), data: zeros(3))) {
        if case .dataLengthMismatch(_, let expected, let actual) = $0 { actual == expected - 1 } else { false }
    },
    .init(name: "duplicate tensor key", bytes: S.file(header: header(entry("w", "U8", "[1]", 0, 1), entry("w", "U8", "[1]", 1, 2)), data: zeros(2))) {
        if case .duplicateKey(_, "w") = $0 { true } else { false }
    },
    .init(name: "duplicate key inside an entry", bytes: S.file(header: #"{"w":{"dtype":"U8","dtype":"I8","shape":[1],"data_offsets":[0,1]}}"#, data: zeros(1))) {
        if case .duplicateKey(_, "dtype") = $0 { true } else { false }
    },
    .init(name: "duplicate __metadata__ key", bytes: S.file(header: #"{"__metadata__":{"format":"pt","format":"tf"}}"#)) {
        if case .duplicateKey(_, "format") = $0 { true } else { false }
    },
]

@Suite("Safetensors bad input")
struct SafetensorsBadInputTests {
    @Test("each malformed file fails with its specific error, in memory and from disk", arguments: badSafetensorsCases)
    func rejects(_ badCase: BadSafetensorsCase) throws {
        var memoryError: SafetensorsError?
        do {
            _ = try S.parse(badCase.bytes, path: "bad.safetensors")
        } catch {
            memoryError = error
        }
        let error = try #require(memoryError, "\(badCase.name) was accepted")
        #expect(badCase.matches(error), "\(badCase.name): got \(error)")
        #expect(error.path == "bad.safetensors")
        #expect(error.description.hasPrefix("bad.safetensors: "))

        let dir = TemporaryDirectory()
        let path = dir.file("bad.safetensors")
        try S.save(badCase.bytes, to: path)
        do {
            _ = try SafetensorsFile(path: path)
            Issue.record("\(badCase.name): file was accepted")
        } catch let fileError as SafetensorsError {
            #expect(badCase.matches(fileError), "\(badCase.name): got \(fileError)")
            #expect(fileError.path == path)
        }
    }
}

/// Values in a Hugging Face directory's config.json that the safetensors cannot back are refused before anything
/// is allocated from them, naming config.json, the field and what the checkpoint holds (fuzzer cases 947, 347,
/// 522: `vocab_size` 4294967296 tried to allocate 64 GiB of token strings; a head count that does not divide the
/// hidden size was reported without the file or the values).
@Suite("HF config values against the checkpoint")
struct HFConfigAgainstCheckpointTests {
    static func directory(_ tmp: TemporaryDirectory, _ change: (inout JSONObject) -> Void) throws -> (dir: String, config: String) {
        let dir = tmp.file("hf")
        if !FileManager.default.fileExists(atPath: dir) { try TinyLlama().writeHFDirectory(dir) }
        var config = TinyLlama().config().objectValue!
        change(&config)
        try AtomicFileWriter.write(JSONWriter.bytes(.object(config)), to: dir + "/config.json")
        return (dir, dir + "/config.json")
    }

    static func converter(_ dir: String) throws -> HuggingFaceToGGUF {
        let (library, table) = try ConversionTests.tools()
        return try HuggingFaceToGGUF(directory: dir, recipes: library, preTokenizers: table)
    }

    @Test("vocab_size that contradicts the embedding rows names config.json, the tensor and both values")
    func vocabularySize() throws {
        let tmp = TemporaryDirectory()
        let (dir, config) = try Self.directory(tmp) { $0["vocab_size"] = .integer(4_294_967_296) }
        let expected = ConversionError.invalidConfigValue(
            path: config, field: "vocab_size",
            expected: "\(TinyLlama.vocabularySize), the rows of embedding tensor 'model.embed_tokens.weight' in \(dir)",
            found: "4294967296")
        #expect(throws: expected) { try Self.converter(dir).vocabularySize() }
        // The whole conversion refuses it too (the u32 type check of the GGUF key comes first there).
        #expect(throws: ConversionError.self) { try ConversionTests.hfToGGUF(dir, tmp.file("x.gguf")) }
        #expect(!FileManager.default.fileExists(atPath: tmp.file("x.gguf")))
        // Negative and non-integer values; the matching value and no value at all.
        _ = try Self.directory(tmp) { $0["vocab_size"] = .integer(-1) }
        #expect(throws: ConversionError.self) { try Self.converter(dir).vocabularySize() }
        _ = try Self.directory(tmp) { $0["vocab_size"] = .string("260") }
        #expect(throws: ConversionError.self) { try Self.converter(dir).vocabularySize() }
        _ = try Self.directory(tmp) { _ in }
        #expect(try Self.converter(dir).vocabularySize() == TinyLlama.vocabularySize)
        _ = try Self.directory(tmp) { $0["vocab_size"] = nil }
        #expect(try Self.converter(dir).vocabularySize() == TinyLlama.vocabularySize)
    }

    @Test("a layer count beyond the checkpoint's tensors names config.json, the field, the bound and the value")
    func layerCount() throws {
        let tmp = TemporaryDirectory()
        let (dir, config) = try Self.directory(tmp) { $0["num_hidden_layers"] = .integer(1_000_000) }
        let n = try SafetensorsFile(path: dir + "/model.safetensors").tensors.count
        let expected = ConversionError.invalidConfigValue(
            path: config, field: "num_hidden_layers",
            expected: "a block count from 0 to \(n) (the checkpoint holds \(n) tensors)", found: "1000000")
        #expect(throws: expected) { try ConversionTests.hfToGGUF(dir, tmp.file("x.gguf")) }
        #expect(throws: expected) { try Self.converter(dir).zeroFilledTensors() }
    }

    @Test("a head count that does not divide the hidden size names config.json and the values",
          arguments: [(1_000_000, "64 is not divisible by 1000000"), (0, "division by zero ('num_attention_heads' is 0)")])
    func headCount(heads: Int, problem: String) throws {
        let tmp = TemporaryDirectory()
        let (dir, config) = try Self.directory(tmp) { $0["num_attention_heads"] = .integer(Int64(heads)) }
        let expected = RecipeError.invalidDimension(
            recipe: "llama", source: config, dimension: nil, expression: "hidden_size/num_attention_heads",
            values: ["hidden_size = 64", "num_attention_heads = \(heads)"], problem: problem)
        #expect(throws: expected) { try ConversionTests.hfToGGUF(dir, tmp.file("x.gguf")) }
        #expect(expected.description.contains(config))
        #expect(expected.description.contains("num_attention_heads = \(heads)"))
    }

    @Test("dimension arithmetic from config values never traps")
    func overflow() throws {
        let resolver = DimensionResolver(values: ["a": Int.max, "b": 2, "n": -4], recipeName: "t", source: "c.json")
        #expect(throws: RecipeError.invalidDimension(
            recipe: "t", source: "c.json", dimension: nil, expression: "a*b", values: ["a = \(Int.max)", "b = 2"],
            problem: "the product overflows a 64-bit integer")) { try resolver.evaluate("a*b") }
        #expect(throws: RecipeError.self) { try resolver.evaluate("n*b") }
        #expect(throws: RecipeError.undefinedSymbol(recipe: "t", symbol: "x", expression: "x/b", source: "c.json")) {
            try resolver.evaluate("x/b")
        }
        #expect(try resolver.evaluate("b*b*3") == 12)
    }
}
