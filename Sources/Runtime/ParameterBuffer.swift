import Foundation

/// A flat buffer of `layout.count` floats in the order of a `ParameterLayout`, owned by its caller and mutated in
/// place: a model's parameters, their gradients, or an optimizer's moments (llm.c's `params_memory` /
/// `grads_memory` / `m_memory` / `v_memory`). Because every buffer of a model shares one layout, an optimizer step
/// is one loop over equal offsets, and a checkpoint is one write per buffer.
///
/// The storage is 64-byte aligned and never moves, so pointers handed to a pass stay valid while the buffer lives.
/// A buffer is mutable state owned by one caller at a time: it is deliberately not `Sendable`.
public final class ParameterBuffer {
    public let layout: ParameterLayout
    /// Floats in the buffer (`layout.count`).
    public let count: Int
    private let storage: UnsafeMutablePointer<Float>

    /// A zero-filled buffer for `layout`.
    public init(layout: ParameterLayout) {
        self.layout = layout
        count = layout.count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * 4, alignment: 64)
        storage = raw.bindMemory(to: Float.self, capacity: max(1, count))
        storage.initialize(repeating: 0, count: max(1, count))
    }

    /// A buffer holding a copy of `parameters`.
    public convenience init(copying parameters: ModelParameters) {
        self.init(layout: parameters.layout)
        parameters.values.withUnsafeBufferPointer { storage.update(from: $0.baseAddress!, count: count) }
    }

    /// A buffer holding every tensor `config` names, decoded from `source` (one tensor at a time: no second copy of
    /// the model is made).
    /// - Throws: `RuntimeError.missingTensor` / `.shapeMismatch`, or whatever decoding throws.
    public convenience init(config: ModelConfig, source: any WeightSource) throws {
        self.init(layout: ParameterLayout(config: config, has: source.contains))
        try layout.load(from: source, into: storage)
    }

    deinit {
        storage.deallocate()
    }

    /// Read-only access to every float.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage, count: count))
    }

    /// Mutable access to every float (an optimizer step, an initialiser, gradient clipping).
    public func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeMutableBufferPointer(start: storage, count: count))
    }

    /// The floats of one tensor of the layout, mutable in place (valid while the buffer lives).
    public func values(of slice: ParameterSlice) -> UnsafeMutableBufferPointer<Float> {
        precondition(slice.offset >= 0 && slice.offset + slice.count <= count, "slice outside the parameter buffer")
        return UnsafeMutableBufferPointer(start: storage + slice.offset, count: slice.count)
    }

    /// Sets every float to zero (gradients at the start of an optimizer step).
    public func zero() {
        storage.update(repeating: 0, count: count)
    }

    /// Copies every float of `other` (same layout).
    public func copy(from other: ParameterBuffer) {
        precondition(other.count == count, "parameter buffers of different layouts")
        storage.update(from: other.storage, count: count)
    }

    /// An immutable copy as `ModelParameters` (to build a `LanguageModel` for evaluation or export).
    public func snapshot() -> ModelParameters {
        var parameters = ModelParameters(layout: layout)
        parameters.values.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: storage, count: count) }
        return parameters
    }

    /// The base address, for passes that take raw pointers.
    var pointer: UnsafeMutablePointer<Float> { storage }
}
