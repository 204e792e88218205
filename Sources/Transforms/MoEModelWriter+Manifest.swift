import Foundation
import IOCore
import TensorCore

/// The manifest record: provenance, per-layer assignments and source digests.
extension MoEModelWriter {
    /// Computes every split layer's partition and the manifest's per-layer records.
    func prepare() throws -> [JSONValue] {
        var records: [JSONValue] = []
        for l in 0..<layers {
            var record = JSONObject([("layer", .integer(Int64(l)))])
            guard let construction = layerPlans[l].construction else {
                record["dense"] = .bool(true)
                records.append(.object(record))
                continue
            }
            record["dense"] = .bool(false)
            switch construction {
            case .upcycle(let o):
                let w = intermediate / o.granularity
                record["assignment"] = Manifest.encodeAssignment(
                    (0..<o.experts).map { e in Array(((e % o.granularity) * w)..<((e % o.granularity + 1) * w)) }, neurons: intermediate)
                record["seed"] = .string(String(Self.layerSeed(o.seed, l)))
                record["router_init"] = .string(o.router.name)
                record["drop_ratio"] = .number(o.dropRatio)
                record["noise"] = .number(Double(o.noise))
            case .split(let o):
                record["method"] = .string(o.method.name)
                record["rescale"] = .string(o.rescale.name)
                record["router_init"] = .string(o.router.name)
                record["aligned"] = .bool(o.alignment != nil)
                let partition = try partition(l, o, dense: nil)
                partitions[l] = partition
                record["assignment"] = Manifest.encodeAssignment(partition.routed, neurons: intermediate)
                if !partition.shared.isEmpty { record["shared_assignment"] = Manifest.encodeAssignment(partition.shared, neurons: intermediate) }
            }
            record["shared_expert_width"] = .integer(Int64(target.hasSharedExpert ? sharedWidth : 0))
            record["score_scale"] = .number(scoreScale(l))
            record["score_scale_folded_into_down"] = .bool(!target.keepsScoreScale)
            records.append(.object(record))
        }
        return records
    }

    /// The provenance record (computes the split partitions), with `sourceDigests` as the SHA-256 of
    /// `source.files` (in that order).
    func manifest(sourceDigests: [String]) throws -> JSONValue {
        var manifest = manifestFields
        manifest["moekit_version"] = .string(MoekitVersion.string)
        manifest["target"] = .string(recipe.name)
        manifest["format"] = .string(format.rawValue)
        manifest["dtype"] = .string(dtype.rawValue)
        manifest["experts"] = .integer(Int64(experts))
        manifest["top_k"] = .integer(Int64(topK))
        manifest["expert_width"] = .integer(Int64(expertWidth))
        manifest["shared_expert_width"] = .integer(Int64(target.hasSharedExpert ? sharedWidth : 0))
        manifest["dense_intermediate_size"] = .integer(Int64(intermediate))
        manifest["dense_layers"] = .array((0..<layers).filter { layerPlans[$0].construction == nil }.map { .integer(Int64($0)) })
        let first = layerPlans.lazy.compactMap(\.construction).first!
        switch first {
        case .upcycle(let o):
            manifest["operation"] = .string("upcycle")
            manifest["router_init"] = .string(o.router.name)
            manifest["drop_ratio"] = .number(o.dropRatio)
            manifest["noise"] = .number(Double(o.noise))
            manifest["granularity"] = .integer(Int64(o.granularity))
            manifest["shared_experts"] = .integer(Int64(o.sharedExperts))
        case .split(let o):
            manifest["operation"] = .string("split")
            manifest["method"] = .string(o.method.name)
            manifest["rescale"] = .string(o.rescale.name)
            manifest["router_init"] = .string(o.router.name)
        }
        manifest["exact_by_construction"] = .bool(isExactByConstruction)
        manifest["source_config"] = source.config
        manifest["sources"] = sourceRecords(sourceDigests)
        manifest["layers"] = .array(try prepare())
        return .object(manifest)
    }

    /// The manifest's `sources` list: each source file's path and SHA-256.
    func sourceRecords(_ digests: [String]) -> JSONValue {
        .array(zip(source.files, digests).map { file, digest in
            .object(JSONObject([("path", .string(file)), ("sha256", .string(digest))]))
        })
    }
}
