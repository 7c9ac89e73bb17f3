import Foundation
import TollgateConsole

/// Text and JSON output of the CLI: tables, key/value blocks, JSON documents, durations and stderr notes.
///
/// Every value that came from outside (client names, upstream error text, audit details) goes through
/// ``singleLine(_:)`` before it reaches a terminal, so control characters cannot garble or hijack it.
enum Output {
    // MARK: Text

    /// Replaces control characters (newlines, escapes) with spaces.
    static func singleLine(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map {
            CharacterSet.controlCharacters.contains($0) ? " " : $0
        }))
    }

    /// Prints rows under upper-case headers, columns padded to their widest cell; `empty` when there are no rows.
    static func table(_ headers: [String], _ rows: [[String]], empty: String) {
        guard !rows.isEmpty else {
            print(empty)
            return
        }
        let cells = rows.map { $0.map(singleLine) }
        var widths = headers.map(\.count)
        for row in cells {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ row: [String]) -> String {
            var text = row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
            while text.hasSuffix(" ") { text.removeLast() }
            return text
        }
        print(line(headers))
        for row in cells { print(line(row)) }
    }

    /// Prints `label: value` lines with the values aligned.
    static func fields(_ pairs: [(String, String)], indent: String = "") {
        let width = (pairs.map(\.0.count).max() ?? 0) + 1
        for (label, value) in pairs {
            print(indent + (label + ":").padding(toLength: width, withPad: " ", startingAt: 0) + " " + singleLine(value))
        }
    }

    /// Writes a line to stderr (hints such as the next-page cursor, and warnings).
    static func note(_ text: String) {
        FileHandle.standardError.write(Data((singleLine(text) + "\n").utf8))
    }

    /// Writes multi-line text that the CLI composed itself (argument-parser's usage messages) to stderr.
    static func stderr(_ text: String) {
        FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }

    /// Writes bytes to stdout exactly as given (no newline added).
    static func raw(_ data: Data) {
        FileHandle.standardOutput.write(data)
    }

    // MARK: JSON

    /// Prints `value` as JSON: pretty, sorted keys, ISO-8601 dates, unescaped slashes.
    static func json(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    // MARK: Time

    // Durations and instants read the same in the CLI and the console: both use TollgateConsole's TimeText.

    /// A span in at most two units: `45s`, `4m 10s`, `3m`, `2h 5m`, `3d 4h`.
    static func span(_ seconds: TimeInterval) -> String { TimeText.span(seconds) }

    /// `in 4m 10s`, `3m ago`, `now`, or `unknown` for `nil`.
    static func relative(_ date: Date?, now: Date, unknown: String = "unknown") -> String {
        TimeText.relative(date, now: now, unknown: unknown)
    }

    /// An absolute ISO-8601 instant followed by the relative form: `2025-01-02T03:04:05Z (in 4m 10s)`.
    static func instant(_ date: Date?, now: Date, unknown: String = "unknown") -> String {
        TimeText.instant(date, now: now, unknown: unknown)
    }

    /// `yes` or `no`.
    static func yesNo(_ flag: Bool) -> String { TimeText.yesNo(flag) }
}
