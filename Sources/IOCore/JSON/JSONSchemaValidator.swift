import Foundation

/// One place where a document breaks its schema.
public struct SchemaViolation: Sendable, Equatable, CustomStringConvertible {
    /// JSON Pointer to the offending value ("" is the document root), e.g. `/tensors/3/gguf`.
    public let pointer: String
    /// What was expected there.
    public let message: String

    public var description: String { "\(pointer.isEmpty ? "/" : pointer): \(message)" }
}

/// Validates JSON documents against JSON Schemas (draft 2020-12 / draft-07 subset).
///
/// Supported keywords: `type`, `enum`, `const`, `properties`, `required`, `additionalProperties`,
/// `patternProperties`, `propertyNames`, `items`, `minItems`, `maxItems`, `uniqueItems`, `minimum`, `maximum`,
/// `exclusiveMinimum`, `exclusiveMaximum`, `multipleOf`, `minLength`, `maxLength`, `pattern`, `allOf`, `anyOf`,
/// `oneOf`, `not`, `if`/`then`/`else`, `minProperties`, and local `$ref` (`#/$defs/…`, `#/definitions/…`).
/// Annotation keywords (`title`, `description`, `default`, `examples`, `$schema`, `$id`, `$comment`) are ignored.
/// That covers every schema under `Schemas/`; a test checks them with Python's `jsonschema` too.
public struct JSONSchemaValidator: Sendable {
    /// The root schema (for `$ref` resolution).
    public let schema: JSONValue

    public init(schema: JSONValue) { self.schema = schema }

    /// Returns every violation (empty when the document is valid).
    public func validate(_ document: JSONValue) -> [SchemaViolation] {
        var violations: [SchemaViolation] = []
        check(document, against: schema, pointer: "", into: &violations, depth: 0)
        return violations
    }

    private func resolve(_ ref: String) -> JSONValue? {
        guard ref.hasPrefix("#") else { return nil }
        var node = schema
        for raw in ref.dropFirst().split(separator: "/") {
            let part = raw.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            guard let next = node[part] else { return nil }
            node = next
        }
        return node
    }

    private static func matchesType(_ value: JSONValue, _ type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object):
            return true
        case ("integer", .integer): return true
        case ("integer", .number(let d)): return d.rounded() == d
        case ("number", .integer), ("number", .number): return true
        default: return false
        }
    }

    private static func escape(_ key: String) -> String {
        key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }

    private static func brief(_ value: JSONValue) -> String {
        let text = JSONWriter.serialize(value)
        return text.count > 60 ? String(text.prefix(57)) + "..." : text
    }

    private func isValid(_ value: JSONValue, _ schema: JSONValue, depth: Int) -> Bool {
        var scratch: [SchemaViolation] = []
        check(value, against: schema, pointer: "", into: &scratch, depth: depth)
        return scratch.isEmpty
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    private func check(
        _ value: JSONValue, against schema: JSONValue, pointer: String, into out: inout [SchemaViolation], depth: Int
    ) {
        guard depth < 64 else {
            out.append(SchemaViolation(pointer: pointer, message: "schema nesting too deep ($ref cycle?)"))
            return
        }
        if case .bool(let allowed) = schema {
            if !allowed { out.append(SchemaViolation(pointer: pointer, message: "no value is allowed here")) }
            return
        }
        guard let s = schema.objectValue else { return }
        func fail(_ message: String) { out.append(SchemaViolation(pointer: pointer, message: message)) }

        if let ref = s["$ref"]?.stringValue {
            if let target = resolve(ref) {
                check(value, against: target, pointer: pointer, into: &out, depth: depth + 1)
            } else {
                fail("schema reference \(ref) cannot be resolved")
            }
        }
        if let type = s["type"] {
            let types = type.arrayValue?.compactMap(\.stringValue) ?? [type.stringValue ?? ""]
            if !types.contains(where: { Self.matchesType(value, $0) }) {
                fail("expected \(types.joined(separator: " or ")), found \(value.typeName) \(Self.brief(value))")
                return
            }
        }
        if let options = s["enum"]?.arrayValue, !options.contains(where: { Self.equal($0, value) }) {
            fail("expected one of \(options.map(Self.brief).joined(separator: ", ")), found \(Self.brief(value))")
        }
        if let constant = s["const"], !Self.equal(constant, value) {
            fail("expected \(Self.brief(constant)), found \(Self.brief(value))")
        }
        if let subschemas = s["allOf"]?.arrayValue {
            for sub in subschemas { check(value, against: sub, pointer: pointer, into: &out, depth: depth + 1) }
        }
        if let subschemas = s["anyOf"]?.arrayValue, !subschemas.contains(where: { isValid(value, $0, depth: depth + 1) }) {
            fail("does not match any of the allowed forms")
        }
        if let subschemas = s["oneOf"]?.arrayValue {
            let matches = subschemas.filter { isValid(value, $0, depth: depth + 1) }.count
            if matches != 1 {
                // Report the closest alternative's own errors when exactly none matched and there is one object form.
                fail(matches == 0 ? "does not match any of the allowed forms" : "matches \(matches) forms, expected exactly one")
            }
        }
        if let negated = s["not"], isValid(value, negated, depth: depth + 1) {
            fail("matches a form that is not allowed")
        }
        if let condition = s["if"] {
            if isValid(value, condition, depth: depth + 1) {
                if let then = s["then"] { check(value, against: then, pointer: pointer, into: &out, depth: depth + 1) }
            } else if let otherwise = s["else"] {
                check(value, against: otherwise, pointer: pointer, into: &out, depth: depth + 1)
            }
        }

        switch value {
        case .object(let object):
            let properties = s["properties"]?.objectValue
            if let required = s["required"]?.arrayValue {
                for key in required.compactMap(\.stringValue) where !object.contains(key) {
                    fail("missing required field '\(key)'")
                }
            }
            if let minimum = s["minProperties"]?.intValue, object.count < minimum {
                fail("expected at least \(minimum) fields, found \(object.count)")
            }
            let patterns = s["patternProperties"]?.objectValue
            for (key, member) in object.pairs {
                let memberPointer = pointer + "/" + Self.escape(key)
                if let names = s["propertyNames"] {
                    var nameErrors: [SchemaViolation] = []
                    check(.string(key), against: names, pointer: memberPointer, into: &nameErrors, depth: depth + 1)
                    if !nameErrors.isEmpty { out.append(SchemaViolation(pointer: memberPointer, message: "field name '\(key)' is not allowed")) }
                }
                var matched = false
                if let sub = properties?[key] {
                    matched = true
                    check(member, against: sub, pointer: memberPointer, into: &out, depth: depth + 1)
                }
                for (pattern, sub) in patterns?.pairs ?? [] where Self.matches(key, pattern) {
                    matched = true
                    check(member, against: sub, pointer: memberPointer, into: &out, depth: depth + 1)
                }
                if !matched, let additional = s["additionalProperties"] {
                    if case .bool(false) = additional {
                        let known = properties?.keys.joined(separator: ", ") ?? ""
                        out.append(SchemaViolation(pointer: memberPointer, message: "unknown field '\(key)'" + (known.isEmpty ? "" : " (known fields: \(known))")))
                    } else {
                        check(member, against: additional, pointer: memberPointer, into: &out, depth: depth + 1)
                    }
                }
            }
        case .array(let items):
            if let minimum = s["minItems"]?.intValue, items.count < minimum {
                fail("expected at least \(minimum) items, found \(items.count)")
            }
            if let maximum = s["maxItems"]?.intValue, items.count > maximum {
                fail("expected at most \(maximum) items, found \(items.count)")
            }
            if s["uniqueItems"]?.boolValue == true {
                for i in items.indices where items[..<i].contains(where: { Self.equal($0, items[i]) }) {
                    out.append(SchemaViolation(pointer: pointer + "/\(i)", message: "duplicate item \(Self.brief(items[i]))"))
                }
            }
            if let itemSchema = s["items"] {
                for (i, item) in items.enumerated() {
                    check(item, against: itemSchema, pointer: pointer + "/\(i)", into: &out, depth: depth + 1)
                }
            }
        case .string(let text):
            let length = text.unicodeScalars.count
            if let minimum = s["minLength"]?.intValue, length < minimum { fail("expected at least \(minimum) characters") }
            if let maximum = s["maxLength"]?.intValue, length > maximum { fail("expected at most \(maximum) characters") }
            if let pattern = s["pattern"]?.stringValue, !Self.matches(text, pattern) {
                fail("\(Self.brief(value)) does not match the pattern \(pattern)")
            }
        case .integer, .number:
            let number = value.doubleValue ?? 0
            if let minimum = s["minimum"]?.doubleValue, number < minimum { fail("expected a value ≥ \(Self.brief(s["minimum"]!)), found \(Self.brief(value))") }
            if let maximum = s["maximum"]?.doubleValue, number > maximum { fail("expected a value ≤ \(Self.brief(s["maximum"]!)), found \(Self.brief(value))") }
            if let minimum = s["exclusiveMinimum"]?.doubleValue, number <= minimum { fail("expected a value > \(Self.brief(s["exclusiveMinimum"]!)), found \(Self.brief(value))") }
            if let maximum = s["exclusiveMaximum"]?.doubleValue, number >= maximum { fail("expected a value < \(Self.brief(s["exclusiveMaximum"]!)), found \(Self.brief(value))") }
            if let divisor = s["multipleOf"]?.doubleValue, divisor > 0, (number / divisor).rounded() != number / divisor {
                fail("expected a multiple of \(Self.brief(s["multipleOf"]!))")
            }
        default:
            break
        }
    }

    /// JSON equality where 1 and 1.0 are the same number.
    private static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if let x = a.doubleValue, let y = b.doubleValue, a.typeName != "string" { return x == y }
        return a == b
    }

    private static func matches(_ text: String, _ pattern: String) -> Bool {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return false }
        return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}
