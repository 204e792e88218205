import Formats
import IOCore
/// Converts config values between `config.json` JSON and GGUF metadata values, with the exact GGUF types a
/// recipe asks for (llama.cpp rejects keys of the wrong type).
enum ConfigValueMapping {
    /// GGUF value of `type` for a JSON config value, or nil when it does not fit.
    static func ggufValue(_ json: JSONValue, type: String) -> GGUFValue? {
        switch type {
        case "u8": return json.intValue.flatMap { UInt8(exactly: $0) }.map { .uint8($0) }
        case "i8": return json.intValue.flatMap { Int8(exactly: $0) }.map { .int8($0) }
        case "u16": return json.intValue.flatMap { UInt16(exactly: $0) }.map { .uint16($0) }
        case "i16": return json.intValue.flatMap { Int16(exactly: $0) }.map { .int16($0) }
        case "u32": return json.intValue.flatMap { UInt32(exactly: $0) }.map { .uint32($0) }
        case "i32": return json.intValue.flatMap { Int32(exactly: $0) }.map { .int32($0) }
        case "u64": return json.intValue.flatMap { UInt64(exactly: $0) }.map { .uint64($0) }
        case "i64": return json.intValue.map { .int64($0) }
        case "f32": return json.doubleValue.map { .float32(Float($0)) }
        case "f64": return json.doubleValue.map { .float64($0) }
        case "bool": return json.boolValue.map { .bool($0) }
        case "string": return json.stringValue.map { .string($0) }
        default: return nil
        }
    }

    /// JSON config value for a GGUF value. F32 values are written with the shortest decimal that reads back to
    /// the same float (1e-05, not 9.999999747378752e-06), as the HF config originally had it.
    static func jsonValue(_ value: GGUFValue) -> JSONValue? {
        switch value {
        case .float32(let f): return .number(Double(String(f)) ?? Double(f))
        case .float64(let d): return .number(d)
        case .bool(let b): return .bool(b)
        case .string(let s): return .string(s)
        case .array: return nil
        default: return value.intValue.map { .integer(Int64($0)) }
        }
    }
}
