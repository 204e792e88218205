import Formats
/// Progress of a streaming conversion, reported after each tensor is written.
public struct ConversionProgress: Sendable {
    /// Tensors written so far.
    public let tensorsDone: Int
    /// Tensors in total.
    public let tensorsTotal: Int
    /// Output data bytes written so far.
    public let bytesDone: Int
    /// Output data bytes in total.
    public let bytesTotal: Int
    /// Name of the tensor just written.
    public let tensor: String
}

/// Receives progress reports; the CLI prints them and logs them as JSONL.
public typealias ConversionProgressHandler = @Sendable (ConversionProgress) -> Void

/// Wraps output tensors so that each reports progress after its data is written.
public func withProgress(_ tensors: [OutputTensor], _ handler: ConversionProgressHandler?) -> [OutputTensor] {
    guard let handler else { return tensors }
    let total = tensors.reduce(0) { $0 + $1.byteCount }
    var offset = 0
    return tensors.enumerated().map { index, tensor in
        offset += tensor.byteCount
        let done = offset
        return OutputTensor(name: tensor.name, shape: tensor.shape, encoding: tensor.encoding, byteCount: tensor.byteCount) {
            writer in
            try tensor.produce(writer)
            handler(ConversionProgress(tensorsDone: index + 1, tensorsTotal: tensors.count, bytesDone: done, bytesTotal: total, tensor: tensor.name))
        }
    }
}
