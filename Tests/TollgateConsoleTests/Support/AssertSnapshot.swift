import Foundation
import Testing

/// Compares `text` with `Snapshots/<name>.txt` next to the calling test file; records it when the file is
/// missing or `RECORD_SNAPSHOTS=1` is set (then the test fails, so a recording is never mistaken for a pass).
func assertSnapshot(_ text: String, named name: String, filePath: String = #filePath,
                    sourceLocation: SourceLocation = #_sourceLocation) {
    let directory = URL(fileURLWithPath: filePath).deletingLastPathComponent().appendingPathComponent("Snapshots")
    let file = directory.appendingPathComponent(name + ".txt")
    let actual = text + "\n"
    let recording = ProcessInfo.processInfo.environment["RECORD_SNAPSHOTS"] == "1"
    guard !recording, let expected = try? String(contentsOf: file, encoding: .utf8) else {
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try? actual.write(to: file, atomically: true, encoding: .utf8)
        Issue.record("recorded snapshot \(name); run again without RECORD_SNAPSHOTS to compare", sourceLocation: sourceLocation)
        return
    }
    guard expected != actual else { return }
    let want = expected.components(separatedBy: "\n"), got = actual.components(separatedBy: "\n")
    var diff: [String] = []
    for i in 0..<max(want.count, got.count) where i >= want.count || i >= got.count || want[i] != got[i] {
        let expectedLine = i < want.count ? want[i] : "<none>", actualLine = i < got.count ? got[i] : "<none>"
        diff.append("line \(i + 1):\n  expected: \(expectedLine)\n  actual:   \(actualLine)")
    }
    let message = "snapshot \(name) differs (re-record with RECORD_SNAPSHOTS=1):\n" + diff.prefix(8).joined(separator: "\n")
    Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
}
