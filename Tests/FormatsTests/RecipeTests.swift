import Foundation
import TestSupport
import Testing

@testable import Conversion
@testable import IOCore

@Suite("Architecture recipes and schemas")
struct RecipeTests {
    static let converters = TestModels.repositoryRoot + "/Converters"
    static let schemas = TestModels.repositoryRoot + "/Schemas"

    static func schema(_ name: String) throws -> JSONValue {
        try JSONParser.parse(try PathUtilities.readBytes(schemas + "/" + name))
    }

    @Test("every recipe in Converters/ validates against Schemas/recipe.schema.json")
    func recipesMatchSchema() throws {
        let validator = JSONSchemaValidator(schema: try Self.schema("recipe.schema.json"))
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.converters).filter { $0.hasSuffix(".json") }
        #expect(!files.isEmpty)
        for file in files {
            let document = try JSONParser.parse(try PathUtilities.readBytes(Self.converters + "/" + file))
            let violations = validator.validate(document)
            #expect(violations.isEmpty, "\(file): \(violations)")
        }
        let library = try RecipeLibrary(directory: Self.converters)
        #expect(try library.recipe(ggufArchitecture: "llama").hfModelType == "llama")
    }

    @Test("the pre-tokenizer table validates and maps smollm")
    func preTokenizerTable() throws {
        let table = try PreTokenizerTable(convertersDirectory: Self.converters)
        let smollm = try #require(table.preTokenizer(named: "smollm"))
        #expect(table.name(matching: smollm) == "smollm")
        #expect(table.preTokenizer(named: "no-such-name") == table.preTokenizer(named: "default"))
    }

    @Test("schema violations name the field by JSON pointer")
    func violationsNameTheField() throws {
        let validator = JSONSchemaValidator(schema: try Self.schema("recipe.schema.json"))
        var recipe = try JSONParser.parse(try PathUtilities.readBytes(Self.converters + "/llama.json")).objectValue!
        var tensors = recipe["tensors"]!.arrayValue!
        var first = tensors[0].objectValue!
        first["gguf"] = .integer(3)
        first["surprise"] = .bool(true)
        tensors[0] = .object(first)
        recipe["tensors"] = .array(tensors)
        recipe["version"] = nil
        let messages = validator.validate(.object(recipe)).map(\.description)
        #expect(messages.contains { $0.hasPrefix("/tensors/0/gguf: expected string") })
        #expect(messages.contains { $0.hasPrefix("/tensors/0/surprise: unknown field") })
        #expect(messages.contains { $0 == "/: missing required field 'version'" })
    }

    @Test("validator keywords: enum, minimum, items, oneOf, $ref, pattern")
    func validatorKeywords() throws {
        let schema = try JSONParser.parse(#"""
            {"type":"object","$defs":{"n":{"type":"integer","minimum":1}},
             "properties":{"a":{"enum":["x","y"]},"b":{"$ref":"#/$defs/n"},"c":{"type":"array","items":{"type":"string","pattern":"^q"}},
                           "d":{"oneOf":[{"type":"string"},{"type":"integer"}]}}}
            """#)
        let validator = JSONSchemaValidator(schema: schema)
        #expect(validator.validate(try JSONParser.parse(#"{"a":"x","b":2,"c":["qa"],"d":3}"#)).isEmpty)
        let bad = validator.validate(try JSONParser.parse(#"{"a":"z","b":0,"c":["a"],"d":1.5}"#)).map(\.pointer)
        #expect(Set(bad) == ["/a", "/b", "/c/0", "/d"])
    }

    @Test("name patterns match only whole decimal layer numbers")
    func namePatterns() {
        let pattern = NamePattern("blk.{L}.attn_q.weight")
        #expect(pattern.match("blk.12.attn_q.weight") == .some(12))
        #expect(pattern.match("blk.x.attn_q.weight") == nil)
        #expect(pattern.match("blk.01.attn_q.weight") == nil)
        #expect(pattern.match("blk..attn_q.weight") == nil)
        #expect(pattern.name(layer: 3) == "blk.3.attn_q.weight")
        #expect(NamePattern("output.weight").match("output.weight") == .some(nil))
    }

    @Test("dimension expressions evaluate left to right and reject unknown names")
    func dimensions() throws {
        let resolver = DimensionResolver(values: ["hidden_size": 576, "num_attention_heads": 9, "num_key_value_heads": 3], recipeName: "t")
        #expect(try resolver.evaluate("hidden_size/num_attention_heads") == 64)
        #expect(try resolver.evaluate("num_key_value_heads*hidden_size/num_attention_heads") == 192)
        #expect(throws: RecipeError.self) { try resolver.evaluate("nope*2") }
        #expect(throws: RecipeError.self) { try resolver.evaluate("hidden_size/7") }
    }

    @Test("Python jsonschema agrees the schemas and recipes are valid (MOEKIT_PY_CROSSCHECK=1)", .requiresPythonPackages("jsonschema"))
    func pythonJSONSchema() throws {
        let script = TestModels.repositoryRoot + "/scripts/crosscheck_schemas.py"
        let (status, output) = try TestModels.run("/usr/bin/env", ["python3", script, TestModels.repositoryRoot])
        #expect(status == 0, "\(output)")
    }
}
