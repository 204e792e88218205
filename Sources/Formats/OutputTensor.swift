import IOCore
import TensorCore

/// A tensor to be written by a streaming checkpoint writer.
///
/// Writers lay out headers from `name`, `shape`, `encoding` and `byteCount` first, then call `produce` once per
/// tensor, in file order, to stream the data. `produce` must write exactly `byteCount` bytes. This lets a
/// converter read, convert and write one tensor at a time from memory-mapped input, so peak memory is bounded
/// by the largest tensor, not the model.
public struct OutputTensor {
    /// Name in the output file.
    public let name: String
    /// Dimensions, outermost first (PyTorch order); GGUF writers reverse them into ggml's `ne` order.
    public let shape: [Int]
    /// Output encoding.
    public let encoding: TensorEncoding
    /// Exact number of data bytes `produce` writes.
    public let byteCount: Int
    /// Streams the data into the writer.
    public let produce: (AtomicFileWriter) throws -> Void

    public init(
        name: String, shape: [Int], encoding: TensorEncoding, byteCount: Int,
        produce: @escaping (AtomicFileWriter) throws -> Void
    ) {
        self.name = name
        self.shape = shape
        self.encoding = encoding
        self.byteCount = byteCount
        self.produce = produce
    }

    /// Writes a stored tensor's bytes unchanged (same encoding), under `name` (default: its own).
    public init(copying view: TensorView, name: String? = nil) {
        self.init(name: name ?? view.name, shape: view.shape, encoding: view.encoding, byteCount: view.bytes.count) {
            writer in
            try writer.write(view.bytes)
        }
    }

    /// A tensor with every element equal to `value`, encoded as `dtype` (a floating-point type), written in chunks.
    public static func filled(name: String, shape: [Int], value: Float, dtype: DType) -> OutputTensor {
        let count = shape.reduce(1, *)
        let width = dtype.byteSize
        var one = [UInt8](repeating: 0, count: width)
        withUnsafePointer(to: value) { v in one.withUnsafeMutableBytes { DenseCodec.encode(dtype, from: v, into: $0.baseAddress!, count: 1) } }
        let chunkElements = min(count, 1 << 16)
        let chunk = [UInt8]((0..<chunkElements).flatMap { _ in one })
        return OutputTensor(name: name, shape: shape, encoding: .dense(dtype), byteCount: count * width) { writer in
            var left = count
            while left > 0 {
                let n = min(left, chunkElements)
                try writer.write(n == chunkElements ? chunk : Array(chunk[0..<(n * width)]))
                left -= n
            }
        }
    }

    /// A small F32 tensor from `values` (little-endian, as every format moekit writes).
    public init(name: String, shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "\(name): \(values.count) values for shape \(shape)")
        let bytes = values.withUnsafeBytes { [UInt8]($0) }
        self.init(name: name, shape: shape, encoding: .dense(.f32), byteCount: bytes.count) { writer in try writer.write(bytes) }
    }

    /// Elements in the tensor.
    public var elementCount: Int { shape.reduce(1, *) }
}
