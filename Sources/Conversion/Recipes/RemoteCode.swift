import Formats
import Foundation
import IOCore

extension ArchitectureRecipe {
    /// Python modelling code that transformers loads with `trust_remote_code` (`remote_code` in the recipe), for a
    /// family transformers does not ship (LLaMA-MoE): every Hugging Face directory of the family that moekit writes
    /// gets the files and config.json's `auto_map`. The recipe names the files; Swift never spells them.
    public struct RemoteCode: Sendable {
        /// One file: its name inside the output directory and where the recipe's copy lives.
        public struct File: Sendable, Equatable {
            /// The file name written into the output directory (the last component of the recipe's path).
            public let name: String
            /// The shipped file: the recipe's path resolved against the recipe's directory.
            public let path: String
        }

        /// The files, in recipe order.
        public let files: [File]
        /// config.json's `auto_map`: transformers Auto class → `module.Class`.
        public let autoMap: JSONObject
    }

    /// Reads `remote_code` from a recipe document that passed schema validation; relative paths are resolved against
    /// the directory of `sourcePath`.
    static func remoteCode(json: JSONValue?, sourcePath: String) -> RemoteCode? {
        guard let json else { return nil }
        let directory = URL(fileURLWithPath: sourcePath).deletingLastPathComponent().path
        let files = (json["files"]?.arrayValue ?? []).compactMap(\.stringValue).map { relative in
            RemoteCode.File(name: URL(fileURLWithPath: relative).lastPathComponent, path: PathUtilities.join(directory, relative))
        }
        return RemoteCode(files: files, autoMap: json["auto_map"]?.objectValue ?? JSONObject())
    }

    /// Checks what the schema cannot: the files exist, stay below the recipe's directory, have distinct names, and
    /// every `auto_map` entry names a module among them.
    /// - Throws: `RecipeError.invalidRemoteCode` naming the recipe file, the field and what was expected.
    func validateRemoteCode() throws(RecipeError) {
        guard let code = remoteCode else { return }
        var names = Set<String>()
        for (index, file) in code.files.enumerated() {
            let field = "remote_code.files[\(index)]"
            let relative = file.path.dropFirst(URL(fileURLWithPath: sourcePath).deletingLastPathComponent().path.count)
            if relative.split(separator: "/").contains(where: { $0 == "." || $0 == ".." }) {
                throw .invalidRemoteCode(path: sourcePath, field: field, problem: "expected a path below the recipe's directory, found '\(relative.dropFirst())'")
            }
            guard names.insert(file.name).inserted else {
                throw .invalidRemoteCode(path: sourcePath, field: field, problem: "expected a file name not used by another file, found '\(file.name)' twice")
            }
            guard PathUtilities.exists(file.path), !PathUtilities.isDirectory(file.path) else {
                throw .invalidRemoteCode(path: sourcePath, field: field, problem: "expected an existing file, \(file.path) is missing")
            }
        }
        let modules = Set(code.files.map { String($0.name.dropLast(".py".count)) })
        for (key, value) in code.autoMap.pairs {
            let module = value.stringValue?.split(separator: ".").first.map(String.init) ?? ""
            guard modules.contains(module) else {
                throw .invalidRemoteCode(
                    path: sourcePath, field: "remote_code.auto_map.\(key)",
                    problem: "expected module.Class with a module among \(modules.sorted().joined(separator: ", ")), found '\(value.stringValue ?? "")'")
            }
        }
    }

    /// The remote-code files as side files of a Hugging Face directory, read now (before anything is written); empty
    /// for a recipe without remote code.
    /// - Throws: `RecipeError.cannotRead` naming a file that cannot be read.
    public func remoteCodeFiles() throws(RecipeError) -> [HuggingFaceDirectoryWriter.SideFile] {
        guard let code = remoteCode else { return [] }
        var result: [HuggingFaceDirectoryWriter.SideFile] = []
        for file in code.files {
            do { result.append(.init(name: file.name, bytes: try PathUtilities.readBytes(file.path))) } catch {
                throw .cannotRead(path: file.path, reason: "remote code of recipe \(name): \(error)")
            }
        }
        return result
    }

    /// `config` with the recipe's `auto_map` (replacing any other); unchanged for a recipe without remote code.
    public func applyingAutoMap(to config: JSONObject) -> JSONObject {
        guard let code = remoteCode else { return config }
        var result = config
        result["auto_map"] = .object(code.autoMap)
        return result
    }
}
