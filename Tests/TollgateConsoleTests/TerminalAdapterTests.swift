import Foundation
import Testing
import TollgateConsole
@testable import TollgateTerminal

/// The curses adapter drawn headless: `newterm` onto /dev/null, then read back what curses holds.
@Suite("Terminal adapter (headless curses)", .serialized)
struct TerminalAdapterTests {
    @Test func drawsWideCharactersWithTheirAttributesAndColours() throws {
        let terminal = try CursesTerminal.headless(term: "xterm-256color")
        defer { terminal.close() }
        #expect(terminal.palette == .full256)
        #expect(terminal.glyphs == .unicode)
        #expect(terminal.measure.of("田" as Character) == 2, "wcwidth in a UTF-8 locale")
        #expect(terminal.measure.of("é" as Character) == 1)
        let size = terminal.size
        #expect(size.columns > 0 && size.rows > 0)
        terminal.apply(.dark)
        var screen = ScreenBuffer(columns: size.columns, rows: size.rows, measure: terminal.measure)
        screen.write("田中 ok", column: 2, row: 1, role: .header)
        screen.write("selected", column: 0, row: 2, role: .selected)
        terminal.draw(screen)
        let wide = terminal.drawnCell(row: 1, column: 2)
        #expect(wide.text == "田")
        #expect(terminal.drawnCell(row: 1, column: 4).text == "中", "the wide character took two columns")
        #expect(terminal.drawnCell(row: 1, column: 7).text == "o")
        #expect(wide.attributes.contains(.bold))
        #expect(wide.pair == StyleRole.allCases.firstIndex(of: .header)! + 1)
        let selected = terminal.drawnCell(row: 2, column: 0)
        #expect(selected.text == "s" && selected.pair == StyleRole.allCases.firstIndex(of: .selected)! + 1)

        // Only what changed is redrawn, and a wide character replaced by narrow ones leaves nothing behind.
        screen.write("ab", column: 2, row: 1, role: .normal)
        terminal.draw(screen)
        #expect(terminal.drawnCell(row: 1, column: 2).text == "a")
        #expect(terminal.drawnCell(row: 1, column: 3).text == "b")
        #expect(terminal.drawnCell(row: 1, column: 4).text == "中")
    }

    @Test func noColorDrawsWithAttributesOnly() throws {
        let terminal = try CursesTerminal.headless(term: "xterm-256color", noColor: true)
        defer { terminal.close() }
        #expect(terminal.palette == ColorPalette.none)
        terminal.apply(.dark)
        var screen = ScreenBuffer(columns: terminal.size.columns, rows: terminal.size.rows, measure: terminal.measure)
        screen.write("row", column: 0, row: 0, role: .selected)
        screen.write("warn", column: 0, row: 1, role: .flashError)
        terminal.draw(screen)
        let selected = terminal.drawnCell(row: 0, column: 0)
        #expect(selected.pair == 0)
        #expect(selected.attributes.contains(.reverse))
        #expect(terminal.drawnCell(row: 1, column: 0).attributes.isSuperset(of: [.bold, .reverse]))
    }

    @Test func terminalsWithFewerColoursGetTheirPalette() throws {
        let eight = try CursesTerminal.headless(term: "xterm")
        #expect(eight.palette == .eight)
        eight.close()
        // No 16-colour entry ships with Debian's ncurses-base; rxvt-unicode has 88, which gets the 16 ANSI colours.
        let sixteen = try CursesTerminal.headless(term: "rxvt-unicode")
        #expect(sixteen.palette == .sixteen)
        sixteen.close()
        let mono = try CursesTerminal.headless(term: "vt100")
        #expect(mono.palette == ColorPalette.none)
        mono.close()
    }

    @Test func aBadTermIsAClearError() {
        do {
            _ = try CursesTerminal.headless(term: "no-such-terminal")
            Issue.record("a terminal was created")
        } catch {
            #expect(String(describing: error).contains("unknown terminal type 'no-such-terminal'"))
        }
    }

    @Test func keysAreDecoded() {
        #expect(CursesTerminal.characterKey(13) == .enter)
        #expect(CursesTerminal.characterKey(10) == .enter)
        #expect(CursesTerminal.characterKey(27) == .escape)
        #expect(CursesTerminal.characterKey(127) == .backspace)
        #expect(CursesTerminal.characterKey(9) == .tab)
        #expect(CursesTerminal.characterKey(21) == .control("u"))
        #expect(CursesTerminal.characterKey(UInt32(("j" as Unicode.Scalar).value)) == .character("j"))
        #expect(CursesTerminal.characterKey(0x7530) == .character("田"))
        #expect(CursesTerminal.functionKey(0o403) == .up)
        #expect(CursesTerminal.functionKey(0o402) == .down)
        #expect(CursesTerminal.functionKey(0o522) == .pageDown)
        #expect(CursesTerminal.functionKey(0o523) == .pageUp)
        #expect(CursesTerminal.functionKey(0o541) == .backTab)
    }
}
