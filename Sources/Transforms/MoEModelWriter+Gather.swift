import Conversion
import Formats
import IOCore
import TensorCore

/// The byte-gather fast path: routed experts that are exact gathers of the dense FFN (rows of gate/up, columns of
/// down, unscaled) are written straight from the memory-mapped source, without decoding the layer to `Float` or
/// building its `MoEFFN`; where the source is already stored in the output type the encoded bytes are copied as they
/// are, so the result is byte-identical to the general path (`encoded(_:as:cache:)`).
extension MoEModelWriter {
    /// A layer whose routed experts are exact gathers of its dense FFN.
    struct LayerGather {
        /// Neurons of every routed expert, in expert order (rows of gate/up, columns of down, in this order).
        let neurons: [[Int]]
        /// Whether every expert is the whole dense FFN (neurons `0..<I`): plain copies.
        let wholeCopies: Bool
        /// The router `[N, H]`, the same values `moe(_:)` builds.
        let router: FloatTensor
        /// The stored dense projections (`[I, H]`, `[I, H]`, `[H, I]`) and their element type.
        let gate: TensorView
        let up: TensorView
        let down: TensorView
        let stored: DType

        /// Releases the mapped pages of the three projections.
        func dropPages() {
            gate.dropPages()
            up.dropPages()
            down.dropPages()
        }
    }

    /// Layer `l` as a byte gather, or nil when some routed expert is not an exact gather of the dense FFN in the block
    /// `moe(_:)` builds. This mirrors `moe(_:)` and the constructions it calls; `MoEModelWriterTests` compares the
    /// outputs of both paths byte for byte (`usesSourceGathers = false` forces the general one).
    ///
    /// Gathered layers: splits with no shared neurons, no alignment, rescale `none` or `n-over-k` where the target
    /// keeps the scale as a field or it is 1 (nothing is folded into down); upcycles with granularity 1, no drop, no
    /// noise, no shared experts and a virtual-group factor of 1 (experts are plain copies). The router must not depend
    /// on the experts' weights (not `centroids`), the target must have no shared expert, and the dense projections must
    /// be stored densely as F32/F16/BF16 without a row permutation.
    /// - Throws: router-init errors (the ones `moe(_:)` would throw).
    func gather(_ l: Int) throws -> LayerGather? {
        guard usesSourceGathers, !target.hasSharedExpert, let construction = layerPlans[l].construction else { return nil }
        let neurons: [[Int]]
        let router: RouterInit
        switch construction {
        case .upcycle(let o):
            let factor = VirtualGroupScaling.factor(copies: o.experts, granularity: 1, topK: o.topK, routing: target.routing)
            guard o.granularity == 1, o.dropRatio == 0, o.noise == 0, o.sharedExperts == 0, factor == 1 else { return nil }
            neurons = Array(repeating: Array(0..<intermediate), count: o.experts)
            router = Self.layerRouter(o.router, l)
        case .split(let o):
            guard o.alignment == nil, let partition = partitions[l], partition.shared.isEmpty else { return nil }
            switch o.rescale {
            case .none, .nOverK: break
            default: return nil
            }
            guard target.keepsScoreScale || scoreScale(l) == 1 else { return nil }
            neurons = partition.routed
            router = Self.layerRouter(o.router, l)
        }
        guard !router.needsExpertWeights else { return nil }
        var views: [TensorView] = []
        var stored: DType?
        for role in Self.denseRoles {
            guard let transcoder = source.transcoder(denseName(l, role), to: .dense(dtype)), transcoder.permutation == nil,
                case .dense(let d) = transcoder.source.encoding.normalized, [.f32, .f16, .bf16].contains(d), stored == nil || stored == d
            else { return nil }
            stored = d
            views.append(transcoder.source)
        }
        guard views[0].shape == [intermediate, hidden], views[1].shape == [intermediate, hidden], views[2].shape == [hidden, intermediate],
            let weight = try router.weight(count: neurons.count, hiddenSize: hidden)
        else { return nil }
        return LayerGather(
            neurons: neurons, wholeCopies: neurons.allSatisfy { $0 == Array(0..<intermediate) }, router: weight,
            gate: views[0], up: views[1], down: views[2], stored: stored!)
    }

    /// Writes a planned tensor as `type`: from the byte gather when its layer has one and the role is gathered, else
    /// through `encoded(_:as:cache:)`.
    func write(_ tensor: PlannedTensor, as type: DType, cache: LayerCache, into writer: AtomicFileWriter) throws {
        if case .block(let l, let role, let e, _) = tensor.content, let g = try cache.gather(l, writer: self) {
            switch role {
            case .expertGate: return try writeRows(g.gate, g.neurons[e], whole: g.wholeCopies, stored: g.stored, as: type, cache: cache, into: writer)
            case .expertUp: return try writeRows(g.up, g.neurons[e], whole: g.wholeCopies, stored: g.stored, as: type, cache: cache, into: writer)
            case .expertDown: return try writeColumns(g.down, g.neurons[e], whole: g.wholeCopies, stored: g.stored, as: type, cache: cache, into: writer)
            case .router: return try writer.write(Self.encode(g.router.values, as: type))
            case .router2: return try writer.write(Self.encode(Self.identityRouter2(experts), as: type))
            default: break
            }
        }
        try writer.write(try encoded(tensor, as: type, cache: cache))
    }

    /// Rows `rows` of a stored `[I, H]` matrix, as `type`.
    private func writeRows(
        _ view: TensorView, _ rows: [Int], whole: Bool, stored: DType, as type: DType, cache: LayerCache, into writer: AtomicFileWriter
    ) throws {
        if whole, stored == type { return try TensorTranscoder(source: view, target: .dense(type)).write(into: writer) }
        let h = view.shape[1]
        let inSize = stored.byteSize, outSize = type.byteSize
        let out = cache.scratch.bytes(rows.count * h * outSize)
        let src = view.bytes.baseAddress!
        if stored == type {
            for (r, i) in rows.enumerated() { (out + r * h * outSize).copyMemory(from: src + i * h * inSize, byteCount: h * outSize) }
        } else {
            let floats = cache.scratch.floats(h)
            for (r, i) in rows.enumerated() {
                DenseCodec.decode(stored, from: src + i * h * inSize, into: floats, count: h)
                DenseCodec.encode(type, from: floats, into: out + r * h * outSize, count: h)
            }
        }
        try writer.write(UnsafeRawBufferPointer(start: out, count: rows.count * h * outSize))
    }

    /// Columns `columns` of a stored `[H, I]` matrix (every row gathered), as `type`.
    private func writeColumns(
        _ view: TensorView, _ columns: [Int], whole: Bool, stored: DType, as type: DType, cache: LayerCache, into writer: AtomicFileWriter
    ) throws {
        if whole, stored == type { return try TensorTranscoder(source: view, target: .dense(type)).write(into: writer) }
        let h = view.shape[0], n = view.shape[1], w = columns.count
        let inSize = stored.byteSize, outSize = type.byteSize
        let out = cache.scratch.bytes(h * w * outSize)
        let src = view.bytes.baseAddress!
        columns.withUnsafeBufferPointer { cols in
            if stored == type && inSize == 2 {
                for row in 0..<h {
                    let s = src + row &* n &* 2
                    let o = out + row &* w &* 2
                    for c in 0..<w { o.storeBytes(of: s.loadUnaligned(fromByteOffset: cols[c] &* 2, as: UInt16.self), toByteOffset: c &* 2, as: UInt16.self) }
                }
            } else if stored == type {
                for row in 0..<h {
                    let s = src + row &* n &* 4
                    let o = out + row &* w &* 4
                    for c in 0..<w { o.storeBytes(of: s.loadUnaligned(fromByteOffset: cols[c] &* 4, as: UInt32.self), toByteOffset: c &* 4, as: UInt32.self) }
                }
            } else {
                let floats = cache.scratch.floats(n + w)
                let picked = floats + n
                for row in 0..<h {
                    DenseCodec.decode(stored, from: src + row * n * inSize, into: floats, count: n)
                    for c in 0..<w { picked[c] = floats[cols[c]] }
                    DenseCodec.encode(type, from: picked, into: out + row * w * outSize, count: w)
                }
            }
        }
        try writer.write(UnsafeRawBufferPointer(start: out, count: h * w * outSize))
    }
}

/// Output buffers reused from tensor to tensor, so that gathered experts do not fault in fresh zeroed pages.
final class GatherScratch {
    private var byteBuffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private var floatBuffer = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)

    /// At least `count` bytes (contents unspecified), valid until the next call.
    func bytes(_ count: Int) -> UnsafeMutableRawPointer {
        if byteBuffer.count < count {
            byteBuffer.deallocate()
            byteBuffer = .allocate(byteCount: max(count, 1), alignment: 64)
        }
        return byteBuffer.baseAddress!
    }

    /// At least `count` floats (contents unspecified), valid until the next call.
    func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        if floatBuffer.count < count {
            floatBuffer.deallocate()
            floatBuffer = .allocate(capacity: max(count, 1))
        }
        return floatBuffer.baseAddress!
    }

    deinit {
        byteBuffer.deallocate()
        floatBuffer.deallocate()
    }
}
