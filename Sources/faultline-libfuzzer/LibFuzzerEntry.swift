// libFuzzer's entry points, for `tools/fuzz --libfuzzer`: each input goes through every
// selected reading command (FAULTLINE_FUZZ_COMMANDS, comma-separated prefixes; default all),
// and libFuzzer's own mutations are joined by the record mutator, so that coverage-guided
// inputs keep valid checksums and reach the analysis.
// Built only with -sanitize=fuzzer (Package.swift adds this target when FAULTLINE_LIBFUZZER
// is set): libFuzzer provides `main`, so this file is parsed as a library.

import Foundation
import FaultlineFuzz

/// Where inputs are written for the commands (they read files, as the command line does).
private let inputPath = NSTemporaryDirectory() + "/faultline-libfuzzer-\(getpid()).flt"
private let mutatorPath = NSTemporaryDirectory() + "/faultline-libfuzzer-\(getpid())-mutator.flt"
private let runner = ReadingCommandRunner()
private let commands = ReadingCommand.selected(
    (ProcessInfo.processInfo.environment["FAULTLINE_FUZZ_COMMANDS"] ?? "").split(separator: ",")
        .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })

@_cdecl("LLVMFuzzerTestOneInput")
public func faultlineTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    guard (try? Data(bytes).write(to: URL(fileURLWithPath: inputPath))) != nil else { return 0 }
    for outcome in runner.run(commands, path: inputPath) {
        // A wrong output is a finding as much as a crash: trap, so libFuzzer keeps the input.
        if case .wrong(let problem) = outcome.result { fatalError("`\(outcome.command)`: \(problem)") }
    }
    return 0
}

@_silgen_name("LLVMFuzzerMutate")
private func libFuzzerMutate(_ data: UnsafeMutablePointer<UInt8>?, _ size: Int, _ maxSize: Int) -> Int

@_cdecl("LLVMFuzzerCustomMutator")
public func faultlineCustomMutator(_ data: UnsafeMutablePointer<UInt8>?, _ size: Int, _ maxSize: Int,
                                   _ seed: UInt32) -> Int {
    var rng = FuzzRandom(seed: UInt64(seed))
    guard let data, !rng.oneIn(3) else { return libFuzzerMutate(data, size, maxSize) }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // Whatever chunks of the input read: a damaged log still has records to mutate.
    guard (try? Data(bytes).write(to: URL(fileURLWithPath: mutatorPath))) != nil,
          let log = FuzzSeed.load(path: mutatorPath, requireWhole: false) else {
        return libFuzzerMutate(data, size, maxSize)
    }
    let mutated = RecordMutator.mutate(log, using: &rng).bytes
    guard mutated.count <= maxSize else { return libFuzzerMutate(data, size, maxSize) }
    mutated.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: mutated.count) }
    return mutated.count
}

// SwiftPM links an executable target with its `main` renamed to `<target>_main` (so tests
// can link it) and defines `main` as that name: with no `main` of ours the link failed
// ("undefined symbol 'faultline_libfuzzer_main'", Swift 6.3). So the target has that entry,
// and it hands over to libFuzzer's driver, as libFuzzer's own main would.
@_silgen_name("LLVMFuzzerRunDriver")
private func libFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                                _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                                _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("faultline_libfuzzer_main")
public func faultlineLibFuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return libFuzzerRunDriver(&count, &arguments) { data, size in faultlineTestOneInput(data, size) }
}
