import Foundation
import TollgateCore

/// Streams a grants listing to a new file, a page at a time: memory stays bounded by one page whatever the
/// store holds. The file is created with mode 0600 (it names subjects); an existing file is refused unless
/// `overwrite`, and a cancelled or failed export removes what it wrote.
struct GrantExportWriter {
    /// Grants per page read from the store (and per write to the file).
    static let pageSize = 1000

    let admin: AdminService
    let clock: any TollgateClock

    /// Why an export could not be written, in one line.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Writes every grant `query` selects (its sort kept, its paging ignored) to `path`; `progress` after each
    /// page with the rows written. Returns the rows written and whether the task was cancelled (then the file
    /// is gone).
    func write(_ format: ExportFormat, query: GrantQuery, to path: String, overwrite: Bool,
               progress: (Int) -> Void) async throws -> (rows: Int, cancelled: Bool) {
        let descriptor = try Self.create(path, overwrite: overwrite)
        let file = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        var rows = 0
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            try file.write(contentsOf: Data((format == .csv ? GrantExportRecord.csvHeader : "[").utf8))
            var page = query
            page.limit = Self.pageSize
            page.after = nil
            page.before = nil
            page.fromEnd = false
            while true {
                if Task.isCancelled {
                    try? file.close()
                    unlink(path)
                    return (rows, true)
                }
                let listing = try await admin.grants(page)
                let now = clock.now()
                var chunk = Data()
                for grant in listing.items {
                    let record = GrantExportRecord(grant, now: now)
                    switch format {
                    case .csv: chunk.append(contentsOf: record.csvLine.utf8)
                    case .json:
                        chunk.append(contentsOf: (rows == 0 ? "\n" : ",\n").utf8)
                        chunk.append(try encoder.encode(record))
                    }
                    rows += 1
                }
                try file.write(contentsOf: chunk)
                progress(rows)
                guard let next = listing.nextCursor else { break }
                page.after = next
            }
            if format == .json { try file.write(contentsOf: Data((rows == 0 ? "]\n" : "\n]\n").utf8)) }
            try file.close()
            return (rows, false)
        } catch {
            try? file.close()
            unlink(path)
            throw error
        }
    }

    /// Opens a new file at `path` with mode 0600: `O_EXCL` refuses an existing one; with `overwrite` the old
    /// file is removed first (so the new one never inherits its mode).
    static func create(_ path: String, overwrite: Bool) throws -> Int32 {
        if overwrite {
            var info = stat()
            if lstat(path, &info) == 0 {
                guard (info.st_mode & mode_t(S_IFMT)) == mode_t(S_IFREG) else { throw Failure(description: "\(path) is not a regular file; not replaced") }
                guard unlink(path) == 0 else { throw Failure(description: "cannot replace \(path): \(String(cString: strerror(errno)))") }
            }
        }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else {
            if errno == EEXIST { throw Failure(description: "\(path) exists; :export! replaces it") }
            throw Failure(description: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        return descriptor
    }
}
