import TensorCore

/// How the router weight `[E, H]` is initialised: random (LLaMA-MoE `smoe/models/llama_moe/modeling_llama_moe.py`
/// `_init_weights`), zero (`get_gate_network` in `smoe/modules/moe/moe_gates.py`), expert centroids (MoEfication
/// `moefication/utils.py`; arXiv 2110.01786) and hidden-state prompts (mergekit `mergekit/moe/router.py`
/// `get_gate_params`).
public enum RouterInit: Sendable, Equatable {
    /// N(0, std²) per entry, seeded (HF LLaMA `initializer_range` 0.02; Drop-Upcycling `torch_normal_002`).
    case random(std: Float, seed: UInt64)
    /// All zeros: uniform routing (LLaMA-MoE linear gate init).
    case zero
    /// Row e = mean of the L2-normalised rows of expert e's `source` projection (MoEfication centroids).
    case centroids(source: ProjectionSource)
    /// Row e = mean of the MLP inputs `inputs` `[T, H]` whose token label is e (mergekit `hidden`, without
    /// negative prompts). For upcycling with granularity G the labels name the R dense copies.
    case hidden(inputs: FloatTensor, labels: [Int])

    /// N(0, 0.02²) with `seed`.
    public static func random(seed: UInt64) -> RouterInit { .random(std: 0.02, seed: seed) }

    /// The command-line name.
    public var name: String {
        switch self {
        case .random: return "random"
        case .zero: return "zero"
        case .centroids: return "centroids"
        case .hidden: return "hidden"
        }
    }

    /// Every router init name.
    public static let knownNames = ["random", "zero", "centroids", "hidden"]

    /// Checks a user-supplied router init name.
    /// - Throws: `TransformError.unknownMethod` listing the valid names.
    @discardableResult
    public static func validateName(_ name: String) throws(TransformError) -> String {
        guard knownNames.contains(name) else { throw .unknownMethod(kind: "router init", name: name, known: knownNames) }
        return name
    }

    /// Builds the `[rows, H]` router for experts whose weights are `experts` (one row per entry).
    /// - Throws: `.emptyCalibration`, `.shapeMismatch` or `.noTokensForExpert` for `hidden`.
    func weight(experts: [Expert], hiddenSize h: Int) throws(TransformError) -> FloatTensor {
        if let weight = try weight(count: experts.count, hiddenSize: h) { return weight }
        var values = [Float]()
        values.reserveCapacity(experts.count * h)
        for expert in experts {
            let m = centroidSource == .up ? expert.up : expert.gate
            values += RowMath.meanOfRows(RowMath.normalizedRows(m), columns: h, rows: Array(0..<m.shape[0]))
        }
        return FloatTensor(shape: [experts.count, h], values: values)
    }

    /// The projection centroids are taken from (gate for every init that is not `centroids`).
    private var centroidSource: ProjectionSource {
        if case .centroids(let source) = self { return source }
        return .gate
    }

    /// Whether the router depends on the experts' weights (only `centroids` does).
    var needsExpertWeights: Bool {
        if case .centroids = self { return true }
        return false
    }

    /// The `[count, H]` router when it does not depend on the experts' weights (nil for `centroids`); `weight(experts:)`
    /// returns exactly this for every other init, so writers that never build the experts get the same router.
    /// - Throws: as `weight(experts:hiddenSize:)`.
    func weight(count e: Int, hiddenSize h: Int) throws(TransformError) -> FloatTensor? {
        switch self {
        case let .random(std, seed):
            guard std >= 0, std.isFinite else {
                throw .invalidParameter(name: "router std", value: "\(std)", reason: "must be finite and ≥ 0")
            }
            var rng = TransformRandom(seed: seed, stream: 0x726F_7574)
            return FloatTensor(shape: [e, h], values: rng.normals(count: e * h, std: Double(std)))
        case .zero:
            return FloatTensor(zeros: [e, h])
        case .centroids:
            return nil
        case let .hidden(inputs, labels):
            try Validate.calibration(inputs, columns: h, name: "router hidden states")
            guard labels.count == inputs.shape[0] else {
                throw .shapeMismatch(name: "router token labels", expected: [inputs.shape[0]], actual: [labels.count])
            }
            var values = [Float]()
            values.reserveCapacity(e * h)
            for expert in 0..<e {
                let rows = labels.indices.filter { labels[$0] == expert }
                guard !rows.isEmpty else { throw .noTokensForExpert(expert: expert) }
                values += RowMath.meanOfRows(inputs.values, columns: h, rows: rows)
            }
            return FloatTensor(shape: [e, h], values: values)
        }
    }
}
