/// Errors in a conversion plan (file or command line). Each names the file, the field (JSON pointer, plus the YAML
/// line when known) and what was expected.
public enum PlanError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The plan file cannot be read.
    case cannotRead(path: String, reason: String)
    /// The file is not valid JSON or YAML (or uses a YAML feature plans reject: anchors, aliases, tags).
    case syntax(path: String, line: Int, column: Int, message: String)
    /// The document breaks `Schemas/plan.schema.json`; one line per violation, each starting with its location.
    case schema(path: String, violations: [String])
    /// A field holds a value the schema allows but the plan cannot use.
    case invalidField(path: String, field: String, expected: String, found: String)
    /// A layer selection names a layer the model does not have.
    case layerOutOfRange(path: String, field: String, layer: Int, layerCount: Int)
    /// A required setting is in neither the plan nor the command line.
    case missingSetting(flag: String, field: String)
    /// A method needs calibration data and none was given.
    case needsCalibration(option: String)
    /// The calibration record of a layer lacks what a method reads.
    case calibrationIncomplete(layer: Int, missing: String, option: String)

    public var description: String {
        switch self {
        case let .cannotRead(path, reason):
            return "\(path): cannot read the plan: \(reason)"
        case let .syntax(path, line, column, message):
            return "\(path):\(line):\(column): \(message)"
        case let .schema(path, violations):
            return "\(path): plan does not match Schemas/plan.schema.json:\n  " + violations.joined(separator: "\n  ")
        case let .invalidField(path, field, expected, found):
            return "\(path): \(field): expected \(expected), found \(found)"
        case let .layerOutOfRange(path, field, layer, count):
            return "\(path): \(field): layer \(layer) does not exist; the model has \(count) layers (0-\(count - 1))"
        case let .missingSetting(flag, field):
            return "\(flag) is required (on the command line or as \"\(field)\" in the plan)"
        case let .needsCalibration(option):
            return "\(option) needs --calibration FILE (or \"calibration\": {\"file\": …} in the plan)"
        case let .calibrationIncomplete(layer, missing, option):
            return "\(option): the calibration of layer \(layer) has no \(missing)"
        }
    }
}
