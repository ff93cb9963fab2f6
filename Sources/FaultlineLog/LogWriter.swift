// Writes a log: interns strings, modules, frames and stacks (each written once, before its
// first use) and packs records into checksummed chunks. A chunk reaches the disk whole or
// not at all from the reader's point of view, so a crash loses at most the open chunk.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FaultlineCore

public struct LogWriteError: Error, CustomStringConvertible {
    public let path: String
    public let errno: Int32
    public var description: String {
        "cannot write \(path): \(String(cString: strerror(errno)))"
    }
}

public final class LogWriter {
    public let path: String
    private let file: OutputFile
    private var fd: Int32 { file.fd }
    private var payload = ChunkPayloadEncoder()
    /// nil only if libdeflate could not allocate one: chunks are then stored as they are.
    private let compressor = Deflate.Compressor()
    private var recordsInChunk: UInt32 = 0
    private var faultsInChunk: UInt64 = 0
    /// The open chunk's faults, for its summary if it holds nothing else.
    private var summary = FaultChunkSummary.Builder()
    public private(set) var bytesWritten: UInt64 = 0
    public private(set) var faultCount: UInt64 = 0
    /// Faults in chunks that reached the file: what a reader will find, when a write failed.
    public private(set) var faultsWritten: UInt64 = 0

    private var strings: [String: StringID] = [:]
    private var modules: [Module: ModuleID] = [:]
    private var frames: [Frame: FrameID] = [:]
    private var stackEdges: [StackEdge: StackID] = [:]
    private var nextStack: UInt32 = 1 // 0 is the empty stack

    private struct StackEdge: Hashable { let parent: StackID; let frame: FrameID }

    /// Whether the new log has replaced what was at `path`, and why it could not.
    private var replaced = false
    private var replaceFailure: Error?

    /// Creates `path` (see OutputFile: mode 0600 unless told, never through someone else's
    /// symlink) and writes the file header and the log header. Only once they are written
    /// does the new log replace what was at `path`: a full disk leaves no empty file behind.
    /// With `replaceNow` false it replaces it at `replace()` (once the command could be
    /// started) or at `finish`; `abandon()` before then leaves what was there.
    public init(path: String, header: LogHeader, mode: mode_t = OutputFile.defaultMode, replaceNow: Bool = true) throws {
        self.path = path
        file = try OutputFile(path: path, mode: mode)
        do {
            try writeAll(LogChunks.fileHeader)
            append(.header(header))
            try flush()
            if replaceNow { try file.commit(); replaced = true }
        } catch {
            file.abandon()
            throw error
        }
    }

    /// Puts the log at its path, over what was there (idempotent). A failure is thrown by
    /// `finish`: the recording goes on meanwhile.
    public func replace() {
        guard !replaced else { return }
        replaced = true
        do { try file.commit() } catch { replaceFailure = error }
    }

    /// Drops the log before it replaced anything: what was at its path stays.
    public func abandon() {
        guard !replaced else { return }
        replaced = true
        file.abandon()
    }

    // MARK: interning

    public func intern(_ text: String) -> StringID {
        if let id = strings[text] { return id }
        let id = StringID(rawValue: UInt32(strings.count))
        strings[text] = id
        append(.string(id, text))
        return id
    }

    public func module(path: String, buildID: [UInt8]) -> ModuleID {
        let m = Module(path: intern(path), buildID: buildID)
        if let id = modules[m] { return id }
        let id = ModuleID(rawValue: UInt32(modules.count))
        modules[m] = id
        append(.module(id, m))
        return id
    }

    public func frame(_ f: Frame) -> FrameID {
        if let id = frames[f] { return id }
        let id = FrameID(rawValue: UInt32(frames.count))
        frames[f] = id
        append(.frame(id, f))
        return id
    }

    /// Interns a stack given leaf first (the order unwinders produce), returning its trie node.
    public func stack<S: Sequence>(leafFirst frameIDs: S) -> StackID where S.Element == FrameID {
        var node = StackID.empty
        for frame in Array(frameIDs).reversed() {
            let edge = StackEdge(parent: node, frame: frame)
            if let existing = stackEdges[edge] {
                node = existing
                continue
            }
            let id = StackID(rawValue: nextStack)
            nextStack += 1
            stackEdges[edge] = id
            append(.stack(id, parent: node, frame: frame))
            node = id
        }
        return node
    }

    /// Every frame interned so far with its module's path and build-id (nil for frames
    /// at absolute addresses): what a recorder names before finishing the log.
    public func internedFrames() -> [(id: FrameID, path: String?, buildID: [UInt8], offset: UInt64)] {
        var pathOf: [ModuleID: (String, [UInt8])] = [:]
        var textOf: [StringID: String] = [:]
        for (text, id) in strings { textOf[id] = text }
        for (module, id) in modules { pathOf[id] = (textOf[module.path] ?? "", module.buildID) }
        return frames.map { frame, id in
            let module = frame.module.flatMap { pathOf[$0] }
            return (id, module?.0, module?.1 ?? [], frame.offset)
        }.sorted { $0.id < $1.id }
    }

    // MARK: events

    /// Appends a record to the open chunk; interning records are written by the methods above.
    /// A write error met by an automatic flush is kept and thrown by the next `flush()`.
    public func append(_ record: LogRecord) {
        var isFault = false
        if case .fault(let f) = record {
            faultCount += 1
            faultsInChunk += 1
            isFault = true
            summary.note(f)
        }
        payload.append(record)
        recordsInChunk += 1
        // Faults (a few dozen bytes each) are measured every 32nd: adding up the field
        // streams' sizes at every fault showed in the recorder's profile. Other records may
        // be large (a command line), and are measured each time.
        if (!isFault || faultsInChunk % 32 == 0) && payload.count >= LogFormat.targetChunkSize {
            do { try writeChunk() } catch { firstError = firstError ?? (error as? LogWriteError) }
        }
    }

    /// The first write error; after it nothing more is written (a torn chunk ends the
    /// readable part of the log, so appending after it would be pointless).
    public private(set) var firstError: LogWriteError?

    /// Writes the open chunk, or throws the first write error seen.
    public func flush() throws {
        if let e = firstError { throw e }
        do { try writeChunk() } catch { firstError = firstError ?? (error as? LogWriteError); throw error }
    }

    private func writeChunk() throws {
        guard recordsInChunk > 0 else { return }
        let bytes = payload.bytes
        let compressed = compressor?.compress(bytes)
        let deflate = compressed.map { $0.count < bytes.count } ?? false
        let stored = deflate ? compressed! : bytes
        // A chunk of nothing but faults says what replay's first pass would read them for.
        let chunk = LogChunks.seal(stored: stored, rawLength: bytes.count, count: recordsInChunk, deflated: deflate,
                                   summary: faultsInChunk == UInt64(recordsInChunk) ? summary.summary : nil)
        payload.reset()
        recordsInChunk = 0
        let faults = faultsInChunk
        faultsInChunk = 0
        summary = FaultChunkSummary.Builder()
        guard firstError == nil else { return }
        try writeAll(chunk)
        faultsWritten += faults
    }

    /// Writes the summary, flushes and closes the file.
    public func finish(_ summary: LogSummary) throws {
        replace()
        if let replaceFailure { throw replaceFailure }
        append(.summary(summary))
        try flush()
        if fsync(fd) != 0 && errno != EINVAL { throw LogWriteError(path: path, errno: errno) }
        if let e = file.close() { throw LogWriteError(path: path, errno: e) }
    }

    private func writeAll(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                write(fd, raw.baseAddress! + offset, raw.count - offset)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw LogWriteError(path: path, errno: errno)
            }
            offset += n
        }
        bytesWritten += UInt64(bytes.count)
    }
}
