import Conversion
import Foundation
import IOCore
import TensorCore

/// The dry-run report: sizes, parameters and config changes, without computing weights.
extension MoEModelWriter {
    /// Config fields the target adds, changes or drops compared with the dense config, and tensors it adds.
    func configChanges() -> JSONValue {
        let before = source.config.objectValue ?? JSONObject()
        let after = outputConfig().objectValue ?? JSONObject()
        var added = JSONObject(), changed = JSONObject()
        for (key, value) in after.pairs {
            if let old = before[key] {
                if old != value { changed[key] = .object(JSONObject([("from", old), ("to", value)])) }
            } else {
                added[key] = value
            }
        }
        var notes: [JSONValue] = []
        for mapping in synthesizedMappings {
            notes.append(.string("adds \(mapping.hf) filled with \(mapping.synthesize == 1 ? "ones" : "zeros")"
                + (mapping.synthesize == 1 ? " (RMSNorm with unit weight is not the identity: the output is not exact)" : "")))
        }
        if format == .safetensors, let code = recipe.remoteCode {
            notes.append(.string("adds transformers remote code \(code.files.map(\.name).joined(separator: ", ")) (config.json auto_map; "
                + "load with trust_remote_code=True)"))
        }
        if format == .gguf, let tied = recipe.tiedEmbeddings, tied.ggufOutputRequired, !source.contains(tied.hfOutput) {
            notes.append(.string("tied embeddings: \(recipe.ggufArchitecture) requires \(tied.ggufOutput), a copy of the embeddings is written"))
        }
        if target.hasSharedExpert, layerPlans.contains(where: { ($0.construction?.sharedWidth(intermediate: intermediate) ?? 1) == 0 }) {
            notes.append(.string("the layout always has a shared expert: layers without one get a zero shared expert of width \(sharedWidth)"))
        }
        if HuggingFaceConfigFacts(json: .object(before), recipe: source.recipe).ropeScaling != nil, format == .gguf {
            notes.append(.string("rope_scaling: only linear scaling has a GGUF form; others stop the conversion"))
        }
        return .object(JSONObject([("added", .object(added)), ("changed", .object(changed)), ("notes", .array(notes))]))
    }

    /// Parameter counts, output bytes, per-layer dense/sparse shapes, config changes and validation problems, without
    /// computing any weights.
    public func plan() -> JSONValue {
        let w = expertWidth
        let s = target.hasSharedExpert ? sharedWidth : 0
        let expertParams = 3 * hidden * w
        let sharedParams = 3 * hidden * s + (target.hasSharedExpertGate ? hidden : 0)
        let routerParams = experts * hidden + (target.roles[.router2] != nil ? experts * experts : 0)
        let denseFFN = 3 * hidden * intermediate
        var otherParams = 0
        for name in source.tensorNames where !name.contains(".mlp.") {
            otherParams += source.view(name)?.shape.reduce(1, *) ?? 0
        }
        var synthesized = 0
        for mapping in synthesizedMappings where mapping.perLayer {
            if let dims = try? outputDimensions(), let n = try? mapping.ne.map({ try dims.evaluate($0) }).reduce(1, *) {
                synthesized += n * layers
            }
        }
        otherParams += synthesized
        let sparseTotal = experts * expertParams + routerParams + sharedParams
        let sparseActive = topK * expertParams + routerParams + sharedParams
        let isSparse = (0..<layers).map { layerPlans[$0].construction != nil }
        var total = otherParams, active = otherParams
        var perLayer: [JSONValue] = []
        for l in 0..<layers {
            let layerTotal = isSparse[l] ? sparseTotal : denseFFN
            let layerActive = isSparse[l] ? sparseActive : denseFFN
            total += layerTotal
            active += layerActive
            var record = JSONObject([
                ("layer", .integer(Int64(l))), ("dense", .bool(!isSparse[l])), ("dense_ffn_parameters", .integer(Int64(denseFFN))),
                ("total_parameters", .integer(Int64(layerTotal))), ("active_parameters", .integer(Int64(layerActive))),
            ])
            if isSparse[l] {
                record["experts"] = .integer(Int64(experts))
                record["expert_width"] = .integer(Int64(w))
                record["shared_expert_width"] = .integer(Int64(s))
                record["shared_expert_parameters"] = .integer(Int64(sharedParams))
                record["score_scale"] = .number(scoreScale(l))
            }
            perLayer.append(.object(record))
        }
        let sourceHead = source.recipe.tensors(role: .output).first.map { $0.hfName(layer: nil, expert: nil) }
        let hasHead = sourceHead.map(source.contains) ?? false
        let untiedCopy = format == .gguf && recipe.tiedEmbeddings?.ggufOutputRequired == true && !hasHead
        let embedding = source.recipe.tensors(role: .embedding).first.flatMap { source.view($0.hfName(layer: nil, expert: nil)) }?
            .shape.reduce(1, *) ?? 0
        let bytesPerValue = dtype.byteSize
        let f32Bytes = format == .gguf ? 4 : bytesPerValue
        let routerBytes = isSparse.filter { $0 }.count * routerParams * f32Bytes
        let mainValues = total - isSparse.filter { $0 }.count * routerParams + (untiedCopy ? embedding : 0)
        let outputBytes = mainValues * bytesPerValue + routerBytes
        let lmHead = sourceHead.flatMap { source.view($0) }?.shape.reduce(1, *) ?? embedding
        let attention = otherParams - synthesized - embedding - (hasHead ? lmHead : 0)
        let flopsDense = 2 * (attention + layers * denseFFN + lmHead)
        let flopsMoE = 2 * (attention + (active - otherParams) + lmHead)
        // Peak working memory: one layer's dense FFN and MoE block in F32, plus one encoded expert.
        let ram = 4 * (denseFFN + sparseTotal) + bytesPerValue * expertParams
        var bytesByType = JSONObject([(dtype.rawValue, .integer(Int64(mainValues * bytesPerValue)))])
        let routerType = format == .gguf ? "F32" : dtype.rawValue
        bytesByType[routerType] = .integer((bytesByType[routerType]?.intValue ?? 0) + Int64(routerBytes))
        return .object(JSONObject([
            ("flops_per_token_dense", .integer(Int64(flopsDense))), ("flops_per_token_moe", .integer(Int64(flopsMoE))),
            ("bytes_by_dtype", .object(bytesByType)), ("working_memory_bytes", .integer(Int64(ram))),
            ("shards", .integer(Int64(format == .gguf ? 1 : max(1, (outputBytes + maxShardSize - 1) / max(maxShardSize, 1))))),
            ("config_changes", configChanges()),
            ("target", .string(recipe.name)), ("format", .string(format.rawValue)), ("dtype", .string(dtype.rawValue)),
            ("routing", .string(recipe.moe?.routing.rawValue ?? "")),
            ("experts", .integer(Int64(experts))), ("top_k", .integer(Int64(topK))), ("expert_width", .integer(Int64(w))),
            ("shared_expert_width", .integer(Int64(s))),
            ("dense_parameters", .integer(Int64(otherParams - synthesized + layers * denseFFN))),
            ("total_parameters", .integer(Int64(total))), ("active_parameters_per_token", .integer(Int64(active))),
            ("output_bytes", .integer(Int64(outputBytes))), ("layers", .array(perLayer)),
            ("problems", .array(problems.map { .string("\($0)") })),
        ]))
    }
}
