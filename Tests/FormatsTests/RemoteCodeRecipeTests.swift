import Foundation
import TestSupport
import Testing

@testable import Conversion
@testable import IOCore

/// A recipe's `remote_code`: the llama-moe recipe declares its modelling code, the library checks the files and the
/// auto_map modules on load, and bad declarations are refused naming the recipe file and the field.
@Suite("Recipe remote code")
struct RemoteCodeRecipeTests {
    static let converters = TestModels.repositoryRoot + "/Converters"

    @Test("llama-moe declares its two modelling files and auto_map; recipes without remote code leave config alone")
    func llamaMoEDeclaresRemoteCode() throws {
        let library = try RecipeLibrary(directory: Self.converters)
        let recipe = try #require(library.recipes["llama-moe"])
        let code = try #require(recipe.remoteCode)
        #expect(code.files.map(\.name) == ["configuration_llama_moe.py", "modeling_llama_moe.py"])
        #expect(code.files.map(\.path) == code.files.map { Self.converters + "/remote-code/llama_moe/" + $0.name })
        #expect(code.autoMap["AutoConfig"]?.stringValue == "configuration_llama_moe.LlamaMoEConfig")
        #expect(code.autoMap["AutoModel"]?.stringValue == "modeling_llama_moe.LlamaMoEModel")
        #expect(code.autoMap["AutoModelForCausalLM"]?.stringValue == "modeling_llama_moe.LlamaMoEForCausalLM")
        let files = try recipe.remoteCodeFiles()
        #expect(files.map(\.name) == code.files.map(\.name))
        for (file, entry) in zip(files, code.files) { #expect(file.bytes == (try PathUtilities.readBytes(entry.path))) }
        let config = recipe.applyingAutoMap(to: JSONObject([("model_type", .string("llama_moe")), ("auto_map", .string("stale"))]))
        #expect(config["auto_map"] == .object(code.autoMap))
        #expect(config["model_type"] == .string("llama_moe"))
        for name in ["llama", "mixtral", "qwen2-moe", "olmoe"] {
            let other = try #require(library.recipes[name])
            #expect(other.remoteCode == nil, "\(name)")
            #expect(try other.remoteCodeFiles().isEmpty)
            let untouched = JSONObject([("auto_map", .string("theirs"))])
            #expect(other.applyingAutoMap(to: untouched) == untouched)
        }
    }

    /// A directory holding only a variant of llama-moe.json whose remote_code is `remoteCode` (JSON text), and the
    /// files `files` (relative paths) with some content.
    static func library(remoteCode: String, files: [String]) throws -> (TemporaryDirectory, Result<RecipeLibrary, RecipeError>) {
        let tmp = TemporaryDirectory()
        let original = try String(contentsOfFile: Self.converters + "/llama-moe.json", encoding: .utf8)
        let start = try #require(original.range(of: "\"remote_code\": {"))
        let end = try #require(original.range(of: "\"expert_count\"", range: start.upperBound..<original.endIndex))
        let text = original.replacingCharacters(in: start.lowerBound..<end.lowerBound, with: "\"remote_code\": " + remoteCode + ",\n  ")
        try text.write(toFile: tmp.file("llama-moe.json"), atomically: true, encoding: .utf8)
        for file in files {
            let path = tmp.file(file)
            try FileManager.default.createDirectory(
                atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
            try "# test\n".write(toFile: path, atomically: true, encoding: .utf8)
        }
        do { return (tmp, .success(try RecipeLibrary(directory: tmp.path))) } catch { return (tmp, .failure(error)) }
    }

    @Test("missing files, paths outside the directory, repeated names and unknown auto_map modules are refused")
    func badRemoteCodeIsRefused() throws {
        let good = #"{"files": ["code/a/conf.py", "code/a/model.py"], "auto_map": {"AutoConfig": "conf.C", "AutoModel": "model.M"}}"#
        let (tmp, ok) = try Self.library(remoteCode: good, files: ["code/a/conf.py", "code/a/model.py"])
        let recipe = try #require(try ok.get().recipes["llama-moe"])
        #expect(recipe.remoteCode?.files.map(\.path) == [tmp.file("code/a/conf.py"), tmp.file("code/a/model.py")])

        let cases: [(code: String, files: [String], field: String, says: String)] = [
            (good, ["code/a/conf.py"], "remote_code.files[1]", "is missing"),
            (#"{"files": ["code/../../x.py"], "auto_map": {"AutoModel": "x.M"}}"#, [], "remote_code.files[0]", "below the recipe's directory"),
            (#"{"files": ["a/m.py", "b/m.py"], "auto_map": {"AutoModel": "m.M"}}"#, ["a/m.py", "b/m.py"], "remote_code.files[1]", "'m.py' twice"),
            (#"{"files": ["code/a/conf.py"], "auto_map": {"AutoModel": "model.M"}}"#, ["code/a/conf.py"], "remote_code.auto_map.AutoModel",
             "module among conf"),
        ]
        for item in cases {
            let (directory, result) = try Self.library(remoteCode: item.code, files: item.files)
            guard case .failure(.invalidRemoteCode(let path, let field, let problem)) = result else {
                Issue.record("\(item.code): expected invalidRemoteCode, got \(result)")
                continue
            }
            #expect(path == directory.file("llama-moe.json"))
            #expect(field == item.field, "\(item.code)")
            #expect(problem.contains(item.says), "\(problem)")
            let message = RecipeError.invalidRemoteCode(path: path, field: field, problem: problem).description
            #expect(message.hasPrefix(directory.file("llama-moe.json") + ": " + item.field + ": "), "\(message)")
        }
        // The schema: only .py files, and auto_map values module.Class.
        for bad in [#"{"files": ["code/a/conf.txt"], "auto_map": {"AutoModel": "conf.M"}}"#,
                    #"{"files": ["code/a/conf.py"], "auto_map": {"AutoModel": "conf"}}"#,
                    #"{"files": ["code/a/conf.py"]}"#] {
            let (_, result) = try Self.library(remoteCode: bad, files: ["code/a/conf.py"])
            guard case .failure(.schemaViolation(_, let violations)) = result else {
                Issue.record("\(bad): expected a schema violation, got \(result)")
                continue
            }
            #expect(violations.contains { $0.contains("remote_code") }, "\(violations)")
        }
    }
}
