import TensorCore

/// How a tensor's elements are encoded in its bytes.
public enum TensorEncoding: Sendable, Hashable, CustomStringConvertible {
    /// One value per element.
    case dense(DType)
    /// ggml block encoding (also used for GGUF's plain F32/F16/BF16 tensors via `GGMLType.denseType`).
    case ggml(GGMLType)

    /// Normalises plain ggml types to `.dense` so that a GGUF F16 tensor and a safetensors F16 tensor compare equal.
    public var normalized: TensorEncoding {
        if case .ggml(let t) = self, let d = t.denseType { return .dense(d) }
        return self
    }

    /// The dtype or ggml type name (`F16`, `Q4_1`).
    public var description: String {
        switch self {
        case .dense(let d): return d.rawValue
        case .ggml(let t): return t.name
        }
    }

    /// Bytes needed for `elements` values, or nil when the count does not fill whole blocks or overflows.
    public func byteCount(elements: Int) -> Int? {
        switch self {
        case .dense(let d):
            let (bytes, overflow) = elements.multipliedReportingOverflow(by: d.byteSize)
            return overflow || elements < 0 ? nil : bytes
        case .ggml(let t): return t.byteCount(elements: elements)
        }
    }
}

/// Errors converting tensor data.
public enum TensorDataError: Error, CustomStringConvertible, Equatable {
    case unsupportedType(tensor: String, type: String)
    case notFloatingPoint(tensor: String, type: String)

    public var description: String {
        switch self {
        case .unsupportedType(let t, let ty):
            return "tensor '\(t)': unsupported type \(ty) (moekit dequantizes F32/F16/BF16/Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/Q2_K–Q6_K)"
        case .notFloatingPoint(let t, let ty): return "tensor '\(t)': type \(ty) cannot be encoded from floats"
        }
    }
}

/// A tensor inside a checkpoint file: name, shape, encoding and a view of its bytes.
///
/// The bytes usually point into a memory-mapped file; `owner` keeps that mapping alive for as long as the view
/// exists. Nothing is copied until `floats()` or `decode(into:)` converts the data.
public struct TensorView: @unchecked Sendable {
    /// The tensor's name as stored in the file.
    public let name: String
    /// Dimensions, outermost first (PyTorch order). GGUF readers reverse ggml's `ne` into this order.
    public let shape: [Int]
    /// Element encoding.
    public let encoding: TensorEncoding
    /// The encoded bytes.
    public let bytes: UnsafeRawBufferPointer
    /// Keeps `bytes` valid (the mapped file or an owned buffer).
    public let owner: AnyObject
    /// Offset of `bytes` inside the owning file, when it is a file (for page management while streaming).
    public let fileOffset: Int

    public init(
        name: String, shape: [Int], encoding: TensorEncoding, bytes: UnsafeRawBufferPointer, owner: AnyObject,
        fileOffset: Int = 0
    ) {
        self.name = name
        self.shape = shape
        self.encoding = encoding
        self.bytes = bytes
        self.owner = owner
        self.fileOffset = fileOffset
    }

    /// Number of elements.
    public var elementCount: Int { shape.reduce(1, *) }

    /// Releases this tensor's pages from the process when it lives in a memory-mapped file (streaming readers call
    /// it once a tensor is consumed, so resident memory stays bounded by what is in flight).
    public func dropPages() {
        (owner as? MappedFile)?.dropPages(fileOffset..<(fileOffset + bytes.count))
    }

    /// Decodes every element to `Float` into `destination` (which must hold `elementCount` values).
    /// - Throws: `TensorDataError.unsupportedType` for encodings moekit cannot decode (IQ types, MXFP4…).
    public func decode(into destination: UnsafeMutablePointer<Float>) throws(TensorDataError) {
        guard let source = bytes.baseAddress ?? (elementCount == 0 ? UnsafeRawPointer(bitPattern: 1) : nil) else {
            return
        }
        switch encoding.normalized {
        case .dense(let d):
            DenseCodec.decode(d, from: source, into: destination, count: elementCount)
        case .ggml(let t):
            guard t.canDequantize else { throw .unsupportedType(tensor: name, type: t.name) }
            GGMLCodec.dequantize(t, from: source, into: destination, count: elementCount)
        }
    }

    /// Decodes every element to a new `Float` array.
    public func floats() throws(TensorDataError) -> [Float] {
        var result = [Float](repeating: 0, count: elementCount)
        var failure: TensorDataError?
        result.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            do throws(TensorDataError) { try decode(into: base) } catch { failure = error }
        }
        if let failure { throw failure }
        return result
    }

    /// Decodes to an owned `FloatTensor`.
    public func floatTensor() throws(TensorDataError) -> FloatTensor {
        FloatTensor(shape: shape, values: try floats())
    }
}

/// An owned byte buffer that can back `TensorView`s built in memory (converted or generated tensors).
public final class OwnedBytes: @unchecked Sendable {
    /// The buffer.
    public let buffer: UnsafeMutableRawBufferPointer

    /// Allocates `count` zeroed bytes.
    public init(count: Int) {
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 64)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
    }

    /// The first `count` bytes as a read-only view.
    public func view(count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<count])
    }

    deinit { buffer.deallocate() }
}

extension TensorView {
    /// Makes a view over a new buffer holding `values` encoded as `encoding`.
    public static func encoding(
        _ values: UnsafeBufferPointer<Float>, name: String, shape: [Int], as encoding: TensorEncoding
    ) throws(TensorDataError) -> TensorView {
        guard let byteCount = encoding.byteCount(elements: values.count) else {
            throw .notFloatingPoint(tensor: name, type: encoding.description)
        }
        let storage = OwnedBytes(count: byteCount)
        if let base = values.baseAddress, let out = storage.buffer.baseAddress {
            switch encoding.normalized {
            case .dense(let d):
                guard d.isFloatingPoint else { throw .notFloatingPoint(tensor: name, type: d.rawValue) }
                DenseCodec.encode(d, from: base, into: out, count: values.count)
            case .ggml(let t):
                guard t.canQuantize else { throw .notFloatingPoint(tensor: name, type: t.name) }
                GGMLCodec.quantize(t, from: base, into: out, count: values.count)
            }
        }
        return TensorView(name: name, shape: shape, encoding: encoding, bytes: storage.view(count: byteCount), owner: storage)
    }

    /// Makes a view over a new F32 buffer holding a copy of `values`.
    public static func float32(_ values: [Float], name: String, shape: [Int]) -> TensorView {
        values.withUnsafeBufferPointer { buffer in
            // Encoding F32 cannot fail.
            try! TensorView.encoding(buffer, name: name, shape: shape, as: .dense(.f32))
        }
    }
}
