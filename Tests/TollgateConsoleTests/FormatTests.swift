import Foundation
import Testing
import TollgateConsole
import TollgateCore

@Suite("Text, width and screen buffer")
struct FormatTests {
    @Test func timeText() {
        let now = Fixtures.now
        #expect(TimeText.span(0) == "0s")
        #expect(TimeText.span(45) == "45s")
        #expect(TimeText.span(250) == "4m 10s")
        #expect(TimeText.span(7500) == "2h 5m")
        #expect(TimeText.span(7500, units: 1) == "2h")
        #expect(TimeText.span(3 * 86_400 + 4 * 3600) == "3d 4h")
        #expect(TimeText.relative(now.addingTimeInterval(250), now: now) == "in 4m 10s")
        #expect(TimeText.relative(now.addingTimeInterval(-180), now: now) == "3m ago")
        #expect(TimeText.relative(now.addingTimeInterval(0.4), now: now) == "now")
        #expect(TimeText.relative(nil, now: now, unknown: "none") == "none")
        #expect(TimeText.instant(now.addingTimeInterval(60), now: now) == "2027-01-15T08:01:00Z (in 1m)")
    }

    @Test func grantText() {
        let revoked = Fixtures.grants.first { $0.state == .revoked }!
        #expect(GrantText.proxyExpiry(revoked) == nil)
        #expect(GrantText.lastRefresh(Fixtures.grants[0], now: Fixtures.now) == "3m ago (succeeded)")
        #expect(GrantText.lastRefresh(Fixtures.grants[1], now: Fixtures.now) == "never")
        #expect(GrantText.refreshable(.notRefreshable(.revoked)) == "no: the grant is revoked")
    }

    @Test func displayWidths() {
        let w = DisplayWidth.builtin
        #expect(w.of("a" as Character) == 1)
        #expect(w.of("田" as Character) == 2)
        #expect(w.of("🙂" as Character) == 2)
        #expect(w.of("é" as Character) == 1)
        #expect(w.of("e\u{301}" as Character) == 1, "a combining accent adds nothing")
        #expect(w.of("\u{1B}" as Character) == nil)
        #expect(w.of("田中 ok") == 7)
        #expect(w.fit("田中太郎", 5) == "田中…")
        #expect(w.pad("ab", 4, right: true) == "  ab")
        #expect(w.fit("abcdef", 4, ellipsis: "~") == "abc~")
    }

    @Test func screenBufferKeepsWideCharactersWhole() {
        var screen = ScreenBuffer(columns: 6, rows: 2)
        #expect(screen.write("a田b", column: 0, row: 0, role: .title) == 4)
        #expect(screen[1, 0] == Cell(character: "田", width: 2, role: .title))
        #expect(screen[2, 0].width == 0)
        // A wide character never straddles the edge.
        #expect(screen.write("xy田", column: 3, row: 1, role: .normal) == 5)
        #expect(screen.text() == "a田b\n   xy")
        // Overwriting half of a wide character blanks the other half.
        screen.write("Z", column: 2, row: 0, role: .label)
        #expect(screen.text().hasPrefix("a Zb"))
        // Control characters from outside data never reach the terminal.
        screen.write("\u{1B}[2J", column: 0, row: 1, role: .normal)
        #expect(screen.text().hasSuffix("?[2Jy"))
        #expect(screen.roleMask() == "TTlT\n")
    }

    @Test func jsonHighlightingKeepsTheTextExact() {
        let line = #"  "scopes_supported" : [ "files.read", 42, -1.5e3, true, null ],"#
        let styled = JSONHighlighter.highlight(line)
        #expect(styled.text == line)
        let roles = Dictionary(styled.spans.map { ($0.text.trimmingCharacters(in: .whitespaces), $0.role) }, uniquingKeysWith: { a, _ in a })
        #expect(roles["\"scopes_supported\""] == .jsonKey)
        #expect(roles["\"files.read\""] == .jsonString)
        #expect(roles["42"] == .jsonNumber)
        #expect(roles["-1.5e3"] == .jsonNumber)
        #expect(roles["true"] == .jsonLiteral)
        let escaped = #""a\"b" : "c""#
        #expect(JSONHighlighter.highlight(escaped).spans.first == Span(#""a\"b""#, .jsonKey))
    }

    @Test func wellKnownTextIsTheServedBytes() {
        let lines = WellKnownText.lines(for: Fixtures.wellKnown).map(\.text)
        let served = String(decoding: Fixtures.wellKnown.authorizationServer, as: UTF8.self)
        let start = lines.firstIndex(of: "{")!
        let end = lines.firstIndex(of: "}")!
        #expect(lines[start...end].joined(separator: "\n") + "\n" == served)
    }

    @Test func grantFilters() throws {
        #expect(try GrantFilter.parse("alice").get() == GrantFilter(subjectPrefix: "alice"))
        #expect(try GrantFilter.parse("server:files client:tgc_1 status:EXPIRED al ice").get()
                == GrantFilter(serverSlug: "files", clientID: "tgc_1", status: .expired, subjectPrefix: "al ice"))
        #expect(try GrantFilter.parse("subject:bob").get() == GrantFilter(subjectPrefix: "bob"))
        #expect(try GrantFilter.parse("https://x").get() == GrantFilter(subjectPrefix: "https://x"))
        #expect(throws: FilterError.self) { try GrantFilter.parse("status:nope").get() }
        #expect(throws: FilterError.self) { try GrantFilter.parse("server:").get() }
        #expect(GrantFilter.parse("").map(\.isEmpty) == .success(true))
    }

    @Test func keyLabels() {
        #expect(Key.down.label == "↓")
        #expect(Key.control("u").label == "^U")
        #expect(Key.character(" ").label == "Space")
        #expect(KeyTable.bindings.filter { $0.context == .browse }.allSatisfy { !$0.summary.isEmpty })
        // No key means two things in the same place.
        for context in KeyContext.allCases {
            for view in ViewKind.allCases {
                let keys = KeyTable.bindings.filter { $0.context == context && (context != .browse || $0.applies(in: view)) }.flatMap(\.keys)
                #expect(Set(keys).count == keys.count, "duplicate key in \(context) \(view)")
            }
        }
    }
}

/// The pieces of `y` and `:export` that are plain functions: the OSC 52 bytes and the CSV fields.
@Suite("Clipboard and export formats")
struct ClipboardAndExportFormatTests {
    @Test func osc52IsBase64BetweenEscRightBracketAndBel() {
        let plain = String(decoding: Clipboard.sequence(for: "tgc_é", inTmux: false), as: UTF8.self)
        #expect(plain == "\u{1B}]52;c;" + Data("tgc_é".utf8).base64EncodedString() + "\u{07}")
        let tmux = String(decoding: Clipboard.sequence(for: "12", inTmux: true), as: UTF8.self)
        #expect(tmux == "\u{1B}]52;c;MTI=\u{07}" + "\u{1B}Ptmux;\u{1B}\u{1B}]52;c;MTI=\u{07}\u{1B}\\",
                "in tmux: the plain sequence (set-clipboard on) and the DCS-wrapped one (allow-passthrough on)")
        #expect(Clipboard.inTmux(["TMUX": "/tmp/tmux-0/default,1,0"]) && !Clipboard.inTmux([:]) && !Clipboard.inTmux(["TMUX": ""]))
    }

    @Test func csvFieldsAreQuotedOnlyWhereRFC4180NeedsIt() {
        #expect(GrantExportRecord.csvField("alice") == "alice")
        #expect(GrantExportRecord.csvField("a,b") == "\"a,b\"")
        #expect(GrantExportRecord.csvField("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(GrantExportRecord.csvField("two\nlines") == "\"two\nlines\"")
        #expect(GrantExportRecord.csvField(" padded") == "\" padded\"")
        #expect(GrantExportRecord.csvField("") == "")
        let record = GrantExportRecord(Fixtures.grants[1], now: Fixtures.now)
        let fields = record.csvLine.dropLast().split(separator: ",", omittingEmptySubsequences: false)
        #expect(fields.count == GrantExportRecord.csvHeader.split(separator: ",").count)
        #expect(fields[0] == "11" && fields[4] == "田中太郎" && fields[5] == "expiring" && fields[10] == "yes")
        #expect(record.csvLine.hasSuffix("\r\n"))
    }

    /// A cell a spreadsheet would read as a formula (OWASP CSV injection: `=`, `+`, `-`, `@`, TAB, CR first) gets a
    /// `'` in front, inside quotes; the JSON export keeps the value as it is.
    @Test func csvCellsThatAFormulaWouldStartAreNeutralised() throws {
        // Catches dropping `formula ||` from needsQuotes, dropping any lead character, or testing the first Character ("\r\n" is one).
        let cases: [(client: String, subject: String, clientCell: String, subjectCell: String)] = [
            ("=HYPERLINK(\"https://evil.example\",\"open\")", "=1+2",
             "\"'=HYPERLINK(\"\"https://evil.example\"\",\"\"open\"\")\"", "\"'=1+2\""),
            ("+1+cmd|' /C calc'!A0", "+sum", "\"'+1+cmd|' /C calc'!A0\"", "\"'+sum\""),
            ("-2+3", "-bob", "\"'-2+3\"", "\"'-bob\""),
            ("@SUM(1+9)*cmd", "@alice", "\"'@SUM(1+9)*cmd\"", "\"'@alice\""),
            ("\t=1+2", "\tbob", "\"'\t=1+2\"", "\"'\tbob\""),
            ("\r=1+2", "\r\nbob", "\"'\r=1+2\"", "\"'\r\nbob\""),
        ]
        let encoder = JSONEncoder()
        for c in cases {
            let record = GrantExportRecord(Fixtures.grant(7, client: c.client, subject: c.subject), now: Fixtures.now)
            #expect(GrantExportRecord.csvField(c.client) == c.clientCell, "\(c.client.debugDescription)")
            #expect(GrantExportRecord.csvField(c.subject) == c.subjectCell, "\(c.subject.debugDescription)")
            #expect(record.csvLine.contains("," + c.clientCell + "," + c.subjectCell + ","), "\(record.csvLine.debugDescription)")
            let json = try #require(try JSONSerialization.jsonObject(with: encoder.encode(record)) as? [String: Any])
            #expect(json["client_name"] as? String == c.client && json["subject"] as? String == c.subject, "JSON unchanged")
        }
        // Ordinary values (a sign or an @ inside, not first) are written as before.
        #expect(GrantExportRecord.csvField("Claude Desktop") == "Claude Desktop")
        #expect(GrantExportRecord.csvField("alice@example.com") == "alice@example.com")
        #expect(GrantExportRecord.csvField("a-b+c=d") == "a-b+c=d")
        let ordinary = GrantExportRecord(Fixtures.grant(8, client: "Claude Desktop", subject: "alice@example.com"), now: Fixtures.now)
        #expect(ordinary.csvLine.hasPrefix("8,files,tgc_claude,Claude Desktop,alice@example.com,"))
    }
}
