/// The settings that may differ from layer to layer. In a plan every field is optional: nil means "not said
/// here", so that plan levels and the command line merge field by field.
public struct LayerSettings: Sendable, Equatable {
    /// Split method name (`SplitMethod.knownNames`).
    public var method: String?
    /// Rescale mode name (`RescaleMode.knownNames`).
    public var rescale: String?
    /// Router init name (`RouterInit.knownNames`).
    public var router: String?
    /// Drop-Upcycling ratio.
    public var dropRatio: Double?
    /// Noise standard deviation.
    public var noise: Float?
    /// Mean/variance alignment (split).
    public var align: Bool?
    /// Keep the layer dense.
    public var dense: Bool?

    /// Creates settings; every field defaults to "not said".
    public init(
        method: String? = nil, rescale: String? = nil, router: String? = nil, dropRatio: Double? = nil,
        noise: Float? = nil, align: Bool? = nil, dense: Bool? = nil
    ) {
        self.method = method
        self.rescale = rescale
        self.router = router
        self.dropRatio = dropRatio
        self.noise = noise
        self.align = align
        self.dense = dense
    }

    /// `self` with every field that `other` sets replaced by `other`'s value.
    public func overridden(by other: LayerSettings) -> LayerSettings {
        LayerSettings(
            method: other.method ?? method, rescale: other.rescale ?? rescale, router: other.router ?? router,
            dropRatio: other.dropRatio ?? dropRatio, noise: other.noise ?? noise, align: other.align ?? align,
            dense: other.dense ?? dense)
    }

    /// `self` without the fields that `other` sets (a command-line flag clears the plan's per-layer values).
    public func clearing(_ other: LayerSettings) -> LayerSettings {
        LayerSettings(
            method: other.method == nil ? method : nil, rescale: other.rescale == nil ? rescale : nil,
            router: other.router == nil ? router : nil, dropRatio: other.dropRatio == nil ? dropRatio : nil,
            noise: other.noise == nil ? noise : nil, align: other.align == nil ? align : nil,
            dense: other.dense == nil ? dense : nil)
    }

    /// Whether no field is set.
    public var isEmpty: Bool { self == LayerSettings() }

    /// The settings with the command-line defaults filled in.
    public var resolved: ResolvedLayerSettings {
        ResolvedLayerSettings(
            method: method ?? "random", rescale: rescale ?? "none", router: router ?? "random",
            dropRatio: dropRatio ?? 0, noise: noise ?? 0, align: align ?? false, dense: dense ?? false)
    }
}

/// One layer's final settings (defaults applied).
public struct ResolvedLayerSettings: Sendable, Equatable {
    /// Split method name (default `random`).
    public var method: String
    /// Rescale mode name (default `none`).
    public var rescale: String
    /// Router init name (default `random`).
    public var router: String
    /// Drop-Upcycling ratio (default 0).
    public var dropRatio: Double
    /// Noise standard deviation (default 0).
    public var noise: Float
    /// Mean/variance alignment (default off).
    public var align: Bool
    /// Kept dense (default no).
    public var dense: Bool
}

/// One entry of a plan's `layers` list.
public struct LayerOverride: Sendable, Equatable {
    /// The layers it applies to.
    public var selection: LayerSelection
    /// What it changes.
    public var settings: LayerSettings
    /// Its JSON pointer in the plan (`/layers/2`), for errors.
    public var field: String

    /// Creates an override entry.
    public init(selection: LayerSelection, settings: LayerSettings, field: String) {
        self.selection = selection
        self.settings = settings
        self.field = field
    }
}
