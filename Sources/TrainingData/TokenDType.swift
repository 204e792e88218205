/// Element type of token ids in a Megatron `.bin` file, with the codes of `DType` in
/// `megatron/core/datasets/indexed_dataset.py` (uint8 = 1, int8 = 2, int16 = 3, int32 = 4, int64 = 5,
/// float64 = 6, float32 = 7, uint16 = 8). moekit writes only the two that `DType.optimal_dtype` picks.
public enum TokenDType: UInt8, Sendable, Codable {
    case int32 = 4
    case uint16 = 8

    /// `DType.optimal_dtype(cardinality)`: uint16 when the vocabulary has under 65,500 entries, else int32.
    public static func optimal(vocabularySize: Int) -> TokenDType {
        vocabularySize < 65_500 ? .uint16 : .int32
    }

    /// Bytes per token id.
    public var size: Int { self == .uint16 ? 2 : 4 }

    /// The numpy name (`uint16`, `int32`).
    public var name: String { self == .uint16 ? "uint16" : "int32" }

    /// The dtype for a Megatron code, or nil for codes moekit does not read (floats, 8/64-bit ints).
    public init?(code: UInt8) { self.init(rawValue: code) }
}
