import Foundation

/// Where theme files are found and how a theme name becomes a ``Theme``.
///
/// A name is looked up as `NAME.theme` in each directory in order: `$TOLLGATE_THEMES_DIR`, `./themes`, and
/// `themes` two levels above the executable (`.build/debug/tollgate` → the package's `themes/`). A name that
/// contains `/` or ends in `.theme` is a path. `dark` always works: it is built in.
public struct ThemeLibrary: Sendable {
    /// The directories searched, in order.
    public var directories: [String]

    public init(directories: [String]) {
        self.directories = directories
    }

    /// The standard search path for this process.
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment,
                                currentDirectory: String = FileManager.default.currentDirectoryPath,
                                executablePath: String? = Bundle.main.executablePath) -> ThemeLibrary {
        var directories: [String] = []
        if let dir = environment["TOLLGATE_THEMES_DIR"], !dir.isEmpty { directories.append(dir) }
        directories.append((currentDirectory as NSString).appendingPathComponent("themes"))
        if let exe = executablePath {
            let resolved = (exe as NSString).resolvingSymlinksInPath
            let up = ((resolved as NSString).deletingLastPathComponent as NSString).appendingPathComponent("../../themes")
            directories.append((up as NSString).standardizingPath)
        }
        var seen = Set<String>()
        return ThemeLibrary(directories: directories.filter { seen.insert($0).inserted })
    }

    /// The theme called `name` (or at path `name`).
    ///
    /// Throws a ``ThemeError`` with a line number for a broken file, and one with line 0 for a name found
    /// nowhere; callers fall back to ``Theme/dark``.
    public func load(_ name: String) throws(ThemeError) -> Theme {
        if name.contains("/") || name.hasSuffix(".theme") {
            return try Self.loadFile(name)
        }
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw ThemeError(source: name, line: 0, message: "not a theme name (letters, digits, '-' and '_')")
        }
        for dir in directories {
            let path = (dir as NSString).appendingPathComponent(name + ".theme")
            if FileManager.default.fileExists(atPath: path) { return try Self.loadFile(path) }
        }
        if name == Theme.defaultName { return .dark }
        throw ThemeError(source: name, line: 0,
                         message: "no theme '\(name)' (looked in \(directories.joined(separator: ", ")); built in: \(Theme.defaultName))")
    }

    /// The names of the themes found, sorted, with the built-in default always among them.
    public func availableNames() -> [String] {
        var names: Set<String> = [Theme.defaultName]
        for dir in directories {
            for file in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where file.hasSuffix(".theme") {
                names.insert(String(file.dropLast(6)))
            }
        }
        return names.sorted()
    }

    /// Reads and parses one theme file; its name is the file name without `.theme`.
    public static func loadFile(_ path: String) throws(ThemeError) -> Theme {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ThemeError(source: path, line: 0, message: "cannot read the theme file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ThemeError(source: path, line: 0, message: "the theme file is not UTF-8")
        }
        let name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        return try Theme.parse(text, name: name, source: path)
    }
}
