import Foundation
import Testing
import TollgateConsole

@Suite("Themes")
struct ThemeTests {
    static let directory = FakeBackend.themesDirectory

    @Test func everyThemeFileLoadsAndSetsEveryRole() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory).filter { $0.hasSuffix(".theme") }.sorted()
        #expect(files == ["dark.theme", "high-contrast.theme", "light.theme", "monochrome.theme"])
        for file in files {
            let theme = try ThemeLibrary.loadFile(Self.directory + "/" + file)
            #expect(Set(theme.styles.keys) == Set(StyleRole.allCases), "\(file) sets every role")
        }
        let monochrome = try ThemeLibrary(directories: [Self.directory]).load("monochrome")
        #expect(monochrome.styles.values.allSatisfy { $0.foreground == .terminalDefault && $0.background == .terminalDefault })
    }

    @Test func theBuiltInDarkThemeIsTheFile() throws {
        let file = try String(contentsOfFile: Self.directory + "/dark.theme", encoding: .utf8)
        #expect(file == Theme.darkSource)
        #expect(Theme.dark == (try ThemeLibrary.loadFile(Self.directory + "/dark.theme")))
        #expect(try ThemeLibrary(directories: ["/nonexistent"]).load("dark") == .dark, "dark works with no theme files at all")
    }

    @Test func aBrokenThemeSaysWhichLineAndWhy() {
        let cases: [(String, Int, String)] = [
            ("title = black on cyan\nselected = purpel", 2, "unknown colour 'purpel'"),
            ("# comment\n\ntitel = red", 3, "unknown role 'titel'"),
            ("title = red +blinking", 1, "unknown attribute '+blinking'"),
            ("title red", 1, "expected 'role = colour [on colour] [+attribute …]'"),
            ("title = red blue", 1, "unexpected 'blue'"),
            ("title = red on", 1, "'on' needs a background colour"),
            ("header =", 1, "role 'header' has no style"),
            ("title = 256", 1, "unknown colour '256'"),
            ("title = #12345", 1, "unknown colour '#12345'"),
        ]
        for (text, line, message) in cases {
            do {
                _ = try Theme.parse(text, name: "bad", source: "themes/bad.theme")
                Issue.record("'\(text)' parsed")
            } catch {
                #expect(error.line == line, "\(text)")
                #expect(error.message.hasPrefix(message), "\(error.message)")
                #expect(error.description.hasPrefix("themes/bad.theme:\(line): "))
            }
        }
    }

    @Test func formatDetails() throws {
        let theme = try Theme.parse("""
            # a comment
              title = #102030 on 236 +bold +UNDERLINE   # trailing comment
            header = on bright-blue
            selected = Grey
            """, name: "t", source: "t")
        #expect(theme.styles[.title] == Style(foreground: .rgb(0x10, 0x20, 0x30), background: .indexed(236), attributes: [.bold, .underline]))
        #expect(theme.styles[.header] == Style(background: .ansi(12)))
        #expect(theme.styles[.selected] == Style(foreground: .ansi(8)))
        #expect(theme.style(for: .buttonFocus) == Style(attributes: [.reverse]), "unset roles keep their essential attributes")
        #expect(theme.attributesOnly(for: .title) == [.bold, .underline, .reverse])
        #expect(Theme.dark.attributesOnly(for: .selected).contains(.reverse), "without colour the selection is reverse video")
    }

    @Test func themesAreFoundInTheSearchPath() throws {
        let temp = NSTemporaryDirectory() + "themes-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: temp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: temp) }
        try "title = red\n".write(toFile: temp + "/light.theme", atomically: true, encoding: .utf8)
        try "title = nope\n".write(toFile: temp + "/broken.theme", atomically: true, encoding: .utf8)
        let library = ThemeLibrary.standard(environment: ["TOLLGATE_THEMES_DIR": temp], currentDirectory: "/nonexistent",
                                            executablePath: Self.directory + "/../.build/debug/tollgate")
        #expect(library.directories.first == temp)
        #expect(library.directories.contains((Self.directory as NSString).standardizingPath))
        #expect(try library.load("light").styles.count == 1, "TOLLGATE_THEMES_DIR comes first")
        #expect(try library.load("monochrome").name == "monochrome", "next to the executable: ../../themes")
        #expect(try library.load(temp + "/light.theme").name == "light", "a path")
        #expect(throws: ThemeError.self) { try library.load("broken") }
        do {
            _ = try library.load("nosuch")
        } catch {
            #expect(error.line == 0 && error.message.hasPrefix("no theme 'nosuch'"))
        }
        #expect(throws: ThemeError.self) { try library.load("../etc") }
        #expect(library.availableNames() == ["broken", "dark", "high-contrast", "light", "monochrome"])
    }

    @Test func nearestColoursForEachTerminal() {
        #expect(ColorPalette.forTerminal(colors: 256, hasColors: true, noColor: false) == .full256)
        #expect(ColorPalette.forTerminal(colors: 16, hasColors: true, noColor: false) == .sixteen)
        #expect(ColorPalette.forTerminal(colors: 8, hasColors: true, noColor: false) == .eight)
        #expect(ColorPalette.forTerminal(colors: 256, hasColors: true, noColor: true) == ColorPalette.none)
        #expect(ColorPalette.forTerminal(colors: 0, hasColors: false, noColor: false) == ColorPalette.none)
        let red = ThemeColor.rgb(255, 0, 0)
        #expect(ColorPalette.full256.index(for: red) == 196)
        #expect(ColorPalette.sixteen.index(for: red) == 9)
        #expect(ColorPalette.eight.index(for: red) == 1)
        #expect(ColorPalette.full256.index(for: .indexed(236)) == 236)
        #expect(ColorPalette.sixteen.index(for: .indexed(236)) == 0)
        #expect(ColorPalette.sixteen.index(for: .indexed(153)) == 7)
        #expect(ColorPalette.eight.index(for: .ansi(14)) == 6, "bright cyan → cyan")
        #expect(ColorPalette.eight.index(for: .ansi(9)) == 1)
        #expect(ColorPalette.full256.index(for: .terminalDefault) == -1)
        #expect(ColorPalette.none.index(for: red) == nil)
    }

    /// Every theme's roles as each kind of terminal gets them.
    @Test func paletteSnapshot() throws {
        var lines: [String] = []
        for name in ["dark", "light", "high-contrast", "monochrome"] {
            let theme = try ThemeLibrary(directories: [Self.directory]).load(name)
            lines.append("[\(name)]  role: 256-colour fg/bg | 16 | 8 | no colour: attributes")
            for role in StyleRole.allCases {
                let style = theme.style(for: role)
                let cells = [ColorPalette.full256, .sixteen, .eight].map { p in
                    "\(p.index(for: style.foreground)!)/\(p.index(for: style.background)!)"
                }
                let attributes = TextAttributes.names.filter { theme.attributesOnly(for: role).contains($0.1) }.map(\.0)
                lines.append("  \(role.rawValue): \(cells.joined(separator: " | ")) | \(attributes.joined(separator: "+"))")
            }
        }
        assertSnapshot(lines.joined(separator: "\n"), named: "themes-palettes")
    }
}
