// A build-tool plugin: every `.sh` file among a target's sources becomes a generated Swift source
// holding its text (the EmbedShellText tool), compiled into the target. The restore script's
// template reaches the binary this way, at build time, with no run-time resource bundle.
import Foundation
import PackagePlugin

@main
struct EmbedShellTemplates: BuildToolPlugin {
    /// One build command per `.sh` source of `target`: `name.sh` becomes `name.sh.swift` in the
    /// plugin's work folder, declaring `enum <Name>ShellTemplate { static let text: String }`
    /// (`restore.sh` → `RestoreShellTemplate`). Rebuilt whenever the `.sh` file changes.
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        guard let target = target as? SourceModuleTarget else { return [] }
        let tool = try context.tool(named: "EmbedShellText")
        return target.sourceFiles(withSuffix: "sh").map { file in
            let name = file.url.lastPathComponent
            let output = context.pluginWorkDirectoryURL.appending(path: name + ".swift")
            return .buildCommand(
                displayName: "Embedding \(name) in \(target.name)",
                executable: tool.url,
                arguments: [file.url.path, output.path, Self.typeName(name)],
                inputFiles: [file.url],
                outputFiles: [output])
        }
    }

    /// `restore.sh` → `RestoreShellTemplate`, `get-deps.sh` → `GetDepsShellTemplate`: the words of
    /// the name before `.sh` (split at `-`, `_` and `.`), each capitalised, then `ShellTemplate`.
    static func typeName(_ fileName: String) -> String {
        let stem = fileName.hasSuffix(".sh") ? String(fileName.dropLast(3)) : fileName
        let words = stem.split(whereSeparator: { "-_.".contains($0) })
        return words.map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined() + "ShellTemplate"
    }
}
