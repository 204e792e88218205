extension ConversionPlan {
    /// What one layer's settings read from calibration text: nil when nothing, otherwise the extra measurements
    /// (the MLP inputs and token labels are always collected) and the option that asked for it.
    public func calibrationNeeds(of settings: ResolvedLayerSettings) -> (needs: CalibrationNeeds, option: String)? {
        guard !settings.dense else { return nil }
        var needs: CalibrationNeeds = []
        var options: [String] = []
        if operation == .split {
            switch settings.method {
            case "gradient", "sharing-inner", "sharing-inter":
                needs.insert(.importance)
                options.append("--method \(settings.method)")
            case "coactivation":
                needs.insert(.activations)
                options.append("--method coactivation")
            default: break
            }
            if settings.rescale == "calibrated" { options.append("--rescale calibrated") }
            if settings.align { options.append("--align") }
        }
        if settings.router == "hidden" { options.append("--router hidden") }
        guard let first = options.first else { return nil }
        return (needs, first)
    }

    /// The union of every layer's calibration needs; nil when no layer reads calibration data.
    /// - Throws: `.layerOutOfRange` for a selection beyond `layerCount`.
    public func calibrationNeeds(layerCount: Int) throws(PlanError) -> CalibrationNeeds? {
        var union: CalibrationNeeds?
        for settings in try resolvedLayers(count: layerCount) {
            if let (needs, _) = calibrationNeeds(of: settings) { union = (union ?? []).union(needs) }
        }
        return union
    }

    /// Builds layer `layer`'s construction from its settings and, for data-driven settings, its calibration record.
    /// Per-layer seeds are derived by the writer from the plan's seed and the layer index.
    /// - Throws: `PlanError.needsCalibration` when a setting reads calibration data and `calibration` is nil,
    ///   `.calibrationIncomplete` when the record lacks a measurement, `.missingSetting`, or `TransformError` for
    ///   an unknown name or an impossible combination (`exact` without K = N and a zero router).
    public func construction(for settings: ResolvedLayerSettings, layer: Int, calibration: LayerCalibration?) throws -> MoEConstruction {
        let experts = try requiredExperts()
        let topK = try requiredTopK()
        let seed = self.seed ?? 0
        if let (_, option) = calibrationNeeds(of: settings), calibration == nil { throw PlanError.needsCalibration(option: option) }
        func importance(_ option: String) throws(PlanError) -> [[Float]] {
            guard let value = calibration?.importance else {
                throw .calibrationIncomplete(layer: layer, missing: "importance (CalibrationNeeds.importance)", option: option)
            }
            return value
        }
        func expertSize() throws(PlanError) -> Int {
            guard let expertSize = self.expertSize else { throw .missingSetting(flag: "--expert-size", field: "expert_size") }
            return expertSize
        }
        try RouterInit.validateName(settings.router)
        let router: RouterInit
        switch settings.router {
        case "zero": router = .zero
        case "centroids": router = .centroids(source: .up)
        case "hidden": router = .hidden(inputs: calibration!.mlpInputs, labels: calibration!.tokenLabels)
        default: router = .random(seed: seed)
        }
        switch operation {
        case .upcycle:
            return .upcycle(UpcycleOptions(
                experts: experts, topK: topK, router: router, dropRatio: settings.dropRatio, noise: settings.noise,
                granularity: granularity ?? 1, sharedExperts: sharedExperts ?? 0, seed: seed))
        case .split:
            try SplitMethod.validateName(settings.method)
            let method: SplitMethod
            switch settings.method {
            case "clustering": method = .clustering(source: .up, seed: seed, maxIterations: 30)
            case "gradient": method = .gradient(importance: try importance("--method gradient"))
            case "coactivation":
                guard let activations = calibration?.activations else {
                    throw PlanError.calibrationIncomplete(layer: layer, missing: "activations (CalibrationNeeds.activations)", option: "--method coactivation")
                }
                method = .coactivation(activations: activations, kernel: .plain)
            case "sharing-inner":
                method = .sharingInner(importance: try importance("--method sharing-inner"), expertSize: try expertSize())
            case "sharing-inter":
                method = .sharingInter(
                    importance: try importance("--method sharing-inter"), sharedExperts: sharedExperts ?? 0,
                    expertSize: try expertSize(), shareRouted: false)
            default: method = .random(seed: seed)
            }
            try RescaleMode.validateName(settings.rescale)
            let rescale: RescaleMode
            switch settings.rescale {
            case "n-over-k": rescale = .nOverK
            case "exact": rescale = .exact
            case "calibrated": rescale = .calibrated(inputs: calibration!.mlpInputs)
            default: rescale = .none
            }
            if rescale == .exact {
                guard topK == experts else { throw TransformError.exactRescaleRequiresAllExperts(topK: topK, experts: experts) }
                guard router == .zero else { throw TransformError.exactRescaleRequiresZeroRouter(router: router.name) }
            }
            return .split(SplitOptions(
                experts: experts, topK: topK, method: method, rescale: rescale, router: router,
                alignment: settings.align ? calibration!.mlpInputs : nil, foldScaleIntoDown: true))
        }
    }

    /// Every layer of a `layerCount`-layer model: dense, or its construction. `calibration(l)` is asked only for
    /// layers whose settings read calibration data.
    public func plannedLayers(count layerCount: Int, calibration: (Int) throws -> LayerCalibration?) throws -> [MoELayerPlan] {
        try resolvedLayers(count: layerCount).enumerated().map { layer, settings in
            if settings.dense { return .dense }
            let record = calibrationNeeds(of: settings) == nil ? nil : try calibration(layer)
            return .sparse(try construction(for: settings, layer: layer, calibration: record))
        }
    }
}
