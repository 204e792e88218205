import Formats
import Foundation
import IOCore
import Runtime

/// The checkpoints of a run directory: `RUN/checkpoints/step-NNNNNNNN/`, each a Hugging Face directory of the
/// model (config.json, `model.safetensors` in F32, tokenizer and generation files) plus `optimizer.safetensors`
/// (each tensor's moments as `NAME.exp_avg` / `NAME.exp_avg_sq`) and `trainer_state.json`. A checkpoint is built in
/// a temporary directory, fsynced and renamed into place as a whole (`HuggingFaceDirectoryWriter`), so a directory
/// named `step-…` is always complete; a killed write leaves only a temporary directory, which is never picked up and
/// is removed by the next write.
public enum TrainingCheckpoint {
    public static let optimizerFileName = "optimizer.safetensors"

    /// `RUN/checkpoints`.
    public static func directory(run: String) -> String { PathUtilities.join(run, "checkpoints") }

    /// The directory of the checkpoint after `step` optimizer steps.
    public static func path(run: String, step: Int) -> String {
        PathUtilities.join(directory(run: run), "step-" + String(format: "%08d", step))
    }

    /// Complete checkpoints of `run`, oldest first, by step.
    public static func list(run: String) -> [(step: Int, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory(run: run))) ?? []
        return names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("step-"), name.count == 13, let step = Int(name.dropFirst(5)) else { return nil }
            let path = PathUtilities.join(directory(run: run), name)
            guard PathUtilities.exists(PathUtilities.join(path, TrainerState.fileName)) else { return nil }
            return (step, path)
        }.sorted { $0.0 < $1.0 }
    }

    /// Writes the checkpoint of `state.step` and keeps only the newest `keep`.
    public static func write(
        run: String, model: TrainableModel, parameters: ParameterBuffer, optimizer: any Optimizer, state: TrainerState, keep: Int
    ) throws {
        let destination = path(run: run, step: state.step)
        try PathUtilities.createDirectory(directory(run: run))
        let optimizerTensors = optimizer.state.flatMap { model.tensors(of: $0.buffer, suffix: "." + $0.suffix) }
        try HuggingFaceDirectoryWriter(destination: destination, replaceExisting: true).write(
            tensors: model.tensors(of: parameters), maxShardSize: Int.max,
            files: [.init(name: "config.json", json: model.configJSON)] + model.sideFiles
                + [.init(name: TrainerState.fileName, json: state.json)],
            tensorFiles: optimizerTensors.isEmpty ? [] : [(optimizerFileName, optimizerTensors)])
        for old in list(run: run).dropLast(keep) { TemporaryPaths.removeTree(old.path) }
    }

    /// Reads a checkpoint's state, and fills `parameters` and the optimizer's state buffers from its files.
    /// - Throws: `TrainingError.invalidCheckpoint` for a missing tensor, a wrong shape or a malformed state.
    public static func read(path: String, parameters: ParameterBuffer, optimizer: any Optimizer) throws -> TrainerState {
        let statePath = PathUtilities.join(path, TrainerState.fileName)
        let state = try TrainerState(json: try JSONParser.parse(try PathUtilities.readBytes(statePath)), path: statePath)
        let weights = try SafetensorsFile(path: PathUtilities.join(path, SafetensorsCheckpoint.singleFileName))
        try fill(parameters, from: weights, suffix: "")
        if !optimizer.state.isEmpty {
            let moments = try SafetensorsFile(path: PathUtilities.join(path, optimizerFileName))
            for (suffix, buffer) in optimizer.state { try fill(buffer, from: moments, suffix: "." + suffix) }
        }
        optimizer.restore(step: state.step)
        return state
    }

    private static func fill(_ buffer: ParameterBuffer, from file: SafetensorsFile, suffix: String) throws {
        for (name, slice) in buffer.layout.names {
            guard let view = file.tensor(named: name + suffix), view.encoding == .dense(.f32), view.shape == slice.shape else {
                throw TrainingError.invalidCheckpoint(
                    path: file.path, problem: "tensor \(name + suffix) is missing or not F32 \(slice.shape)")
            }
            _ = view.bytes.copyBytes(to: UnsafeMutableRawBufferPointer(buffer.values(of: slice)))
        }
    }
}
