import Conversion
import IOCore
import TensorCore
import TestSupport
import Testing

/// The family-independent config facts, for transformers v4 and v5 spellings.
@Suite("Hugging Face config facts")
struct HuggingFaceConfigFactsTests {
    static func facts(_ text: String, recipe: ArchitectureRecipe? = nil) throws -> HuggingFaceConfigFacts {
        HuggingFaceConfigFacts(json: try JSONParser.parse(Array(text.utf8)), recipe: recipe)
    }

    @Test("stored float type: v5 dtype first, then torch_dtype; unknown names give nil")
    func storedFloatType() throws {
        #expect(try Self.facts(#"{"torch_dtype": "bfloat16"}"#).storedFloatType == .bf16)
        #expect(try Self.facts(#"{"dtype": "float16", "torch_dtype": "float32"}"#).storedFloatType == .f16)
        #expect(try Self.facts(#"{"torch_dtype": "float32"}"#).storedFloatType == .f32)
        #expect(try Self.facts(#"{"torch_dtype": "int8"}"#).storedFloatType == nil)
        #expect(try Self.facts(#"{}"#).storedFloatType == nil)
    }

    @Test("setting the float type writes torch_dtype always and dtype only where present")
    func settingFloatType() throws {
        let v4 = try Self.facts(#"{"torch_dtype": "float32", "a": 1}"#).settingStoredFloatType(.bf16)
        #expect(v4["torch_dtype"]?.stringValue == "bfloat16" && v4["dtype"] == nil && v4["a"]?.intValue == 1)
        let v5 = try Self.facts(#"{"dtype": "float32"}"#).settingStoredFloatType(.f16)
        #expect(v5["torch_dtype"]?.stringValue == "float16" && v5["dtype"]?.stringValue == "float16")
    }

    @Test("trained context uses the recipe's key; a missing or non-positive value gives nil")
    func trainedContext() throws {
        let recipe = try RecipeLibrary(directory: TestModels.repositoryRoot + "/Converters").recipe(ggufArchitecture: "llama")
        #expect(try Self.facts(#"{"max_position_embeddings": 8192}"#, recipe: recipe).trainedContext == 8192)
        #expect(try Self.facts(#"{"max_position_embeddings": 8192}"#).trainedContext == 8192)
        #expect(try Self.facts(#"{"max_position_embeddings": 0}"#, recipe: recipe).trainedContext == nil)
        #expect(try Self.facts(#"{}"#, recipe: recipe).trainedContext == nil)
    }

    @Test("RoPE scaling: v4 rope_scaling, v5 rope_parameters unless default, nil for plain RoPE")
    func ropeScaling() throws {
        let v4 = try Self.facts(#"{"rope_scaling": {"rope_type": "llama3", "factor": 8.0}}"#).ropeScaling
        #expect(v4?["factor"]?.doubleValue == 8)
        let v5 = try Self.facts(#"{"rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 10000}}"#).ropeScaling
        #expect(v5?["factor"]?.doubleValue == 2)
        #expect(try Self.facts(#"{"rope_parameters": {"rope_type": "default", "rope_theta": 10000}}"#).ropeScaling == nil)
        #expect(try Self.facts(#"{"rope_scaling": null}"#).ropeScaling == nil)
    }

    @Test("model name: _name_or_path when non-empty")
    func modelName() throws {
        #expect(try Self.facts(#"{"_name_or_path": "HuggingFaceTB/SmolLM2-135M"}"#).modelName == "HuggingFaceTB/SmolLM2-135M")
        #expect(try Self.facts(#"{"_name_or_path": ""}"#).modelName == nil)
    }
}
