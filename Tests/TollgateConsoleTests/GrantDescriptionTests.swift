import Foundation
import Testing
import TollgateTestSupport
import TollgateConsole
import TollgateCore

/// The CLI and the console describe a grant, its table columns and its filter from the same definitions.
@Suite("One description of a grant for the CLI and the console")
struct GrantDescriptionTests {
    /// The labels of `label: value` lines up to the first blank line (`grant show`'s fields).
    func cliLabels(_ text: String) -> [String] {
        text.components(separatedBy: "\n").prefix { !$0.isEmpty }.map { line in
            String(line.prefix { $0 != ":" })
        }
    }

    /// The labels of the detail view's fields: the first span of each line between the heading and the first blank line.
    func consoleLabels(_ lines: [StyledLine]) -> [String] {
        lines.dropFirst(2).prefix { !$0.spans.isEmpty }.map { $0.spans[0].text.trimmingCharacters(in: .whitespaces) }
    }

    @Test func grantShowAndTheDetailViewListTheSameFieldsAndSectionsInTheSameOrder() async throws {
        let h = try await StoreHarness(upstream: false)
        do {
            let id = try await h.makeGrant(subject: "alice")
            _ = try await h.tollgate.admin.revokeGrant(id: id)
            let shown = try await CLI.run(try CLI.binary(), ["grant", "show", String(id)], environment: ["TOLLGATE_DB": h.databasePath])
            #expect(shown.status == 0, "\(shown.stderr)")
            let detail = GrantInfo(try await h.tollgate.admin.grantDetail(id: id))
            let lines = DetailText.lines(for: detail, state: ConsoleDriver().state)

            let labels = GrantDescription(detail, now: h.tollgate.clock.now()).fields.map(\.label)
            #expect(labels.contains("revoked") && labels.contains("upstream refresh expires"), "the fixture shows the optional fields")
            #expect(cliLabels(shown.stdout) == labels, "\(shown.stdout)")
            #expect(consoleLabels(lines) == labels)

            let cliSections = shown.stdout.components(separatedBy: "\n").filter { $0.hasSuffix(":") }.map { String($0.dropLast()) }
            let consoleSections = lines.filter { $0.spans.first?.role == .header }.map { $0.text.replacingOccurrences(of: " (newest first)", with: "") }
            #expect(cliSections == ["Last refusals", "Last refresh errors", "Refresh history", "Audit events"])
            #expect(consoleSections == cliSections)
        } catch {
            await h.shutdown()
            throw error
        }
        await h.shutdown()
    }

    @Test func aFaceAddsItsOwnFactAtItsPlace() {
        let description = GrantDescription(Fixtures.info(Fixtures.grants[0]), now: Fixtures.now)
        let forced = description.inserting(GrantDescription.Field(.forcedRefresh, "refreshed"))
        let labels = forced.fields.map(\.label)
        #expect(labels.firstIndex(of: "forced refresh") == labels.firstIndex(of: "created").map { $0 - 1 })
        #expect(forced.inserting(GrantDescription.Field(.forcedRefresh, "again")).fields.count == forced.fields.count, "replaced, not added")
        #expect(!description.fields.contains { $0.key == .forcedRefresh }, "the store knows of no forced refresh")
    }

    /// The help's lines of a section: the terms (key-role spans) under `heading`, up to the next blank line.
    func helpTerms(under heading: String) -> [String] {
        let lines = HelpText.lines(readOnly: false)
        guard let start = lines.firstIndex(where: { $0.text == heading }) else { return [] }
        return lines[(start + 1)...].prefix { !$0.spans.isEmpty }.filter { $0.spans.first?.role == .helpKey }
            .map { $0.spans[0].text.trimmingCharacters(in: .whitespaces) }
    }

    @Test func everyGrantsColumnIsInTheHelpInTableOrder() {
        #expect(helpTerms(under: "Columns of the grants view") == GrantColumn.all.map(\.header))
        let header = ConsoleDriver(columns: 200, rows: 24).screen().text().components(separatedBy: "\n")[1]
        let shown = header.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        #expect(shown == GrantColumn.all.map(\.header).joined(separator: " "), "a wide table shows every column, in that order")
    }

    @Test func everyFilterKeyIsParsedAndInTheHelp() throws {
        #expect(helpTerms(under: "Filters") == GrantFilter.Key.allCases.map(\.synopsis))
        for key in GrantFilter.Key.allCases {
            let filter = try GrantFilter.parse("\(key.rawValue):active").get()
            #expect(filter != GrantFilter(subjectPrefix: "\(key.rawValue):active"), "\(key.rawValue): is a key, not a word")
            #expect(!filter.isEmpty)
        }
    }
}
