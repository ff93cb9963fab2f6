// swift-tools-version:5.10
// faultline: a Linux page-fault tracer and recorder.
// Pure-Swift targets (Core, Log, Analysis) build and test anywhere without privileges;
// the Linux-only targets (C shim, libdw, tracer) are kept apart.
import PackageDescription
import class Foundation.ProcessInfo

let package = Package(
    name: "faultline",
    products: [
        .executable(name: "faultline", targets: ["faultline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.28.0"),
    ],
    targets: [
        // What Swift cannot call directly: variadic ptrace/syscall, perf_event_open,
        // ring-buffer barriers, wait-status macros, the fork→exec launcher.
        .target(name: "CFaultlineLinux"),
        .systemLibrary(name: "CLibdw", pkgConfig: "libdw",
                       providers: [.apt(["libdw-dev"])]),

        .target(name: "FaultlineCore"),
        // One address space: the kernel's rules for mmap, munmap, mremap, mprotect, madvise,
        // brk, fork and exec, used by the recorder, the reports, the unwinder and replay.
        .target(name: "FaultlineAddressSpace", dependencies: ["FaultlineCore"]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CLibdeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),
        // glibc's mallopt, declared in a header: no library of its own.
        .systemLibrary(name: "CMallocArena"),
        .target(name: "FaultlineLog", dependencies: ["FaultlineCore", "CZlib", "CLibdeflate", "CMallocArena"]),
        // SwiftProtobuf and zlib: the pprof export (gzipped profile.proto; generated code committed).
        .target(name: "FaultlineAnalysis", dependencies: ["FaultlineCore", "FaultlineLog", "FaultlineAddressSpace", "CZlib",
                                                          .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        // stdc++: for __cxa_demangle, declared in Swift (Demangle.swift) so no C shim is needed.
        .target(name: "FaultlineSymbolize",
                dependencies: ["FaultlineCore", "CLibdw"],
                linkerSettings: [.linkedLibrary("stdc++")]),
        // A header with one inline function (a prefetch hint): no library, builds anywhere.
        .systemLibrary(name: "CPrefetch"),
        // The what-if model: VMA timeline, page tables, TLBs. Pure Swift, no privileges.
        // Its inner loop mutates engine state through class references; the runtime
        // exclusivity checks on those accesses cost more than the model itself (measured).
        .target(name: "FaultlineReplay", dependencies: ["FaultlineCore", "FaultlineLog", "FaultlineAddressSpace", "CPrefetch"],
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]),
        .systemLibrary(name: "CLibunwind", pkgConfig: "libunwind-ptrace", providers: [.apt(["libunwind-dev"])]),
        // The C file includes libunwind's headers directly, so the module map's link lines
        // do not apply: link here. Debian's libunwind-ptrace.so needs liblzma without a
        // NEEDED entry for it.
        .target(name: "CFaultlineUnwind", dependencies: ["CLibunwind"],
                linkerSettings: [.linkedLibrary("unwind-ptrace"), .linkedLibrary("unwind-generic"),
                                 .linkedLibrary("unwind"), .linkedLibrary("lzma")]),
        // The recorder's per-event path mutates its state through class references (the
        // session, the assembler, the ring readers); the runtime exclusivity checks on those
        // accesses were a tenth of its time (perf, on a fault storm); without them its CPU
        // time on fault_storm 512 fell from 542 to 514 ms (medians of 4, perf stat).
        .target(name: "FaultlineTracer",
                dependencies: ["FaultlineCore", "FaultlineLog", "FaultlineAddressSpace", "FaultlineSymbolize", "CLibdw", "CFaultlineLinux",
                               "CFaultlineUnwind"],
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]),
        .executableTarget(name: "faultline", dependencies: [
            "FaultlineCore", "FaultlineLog", "FaultlineAddressSpace", "FaultlineAnalysis", "FaultlineSymbolize",
            "FaultlineTracer", "FaultlineReplay",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // The fuzzers: mutators (bytes, and record fields re-encoded with valid checksums) and
        // every reading command run in-process; `faultline-fuzz` runs them for tools/fuzz.
        .target(name: "FaultlineFuzz", dependencies: ["FaultlineCore", "FaultlineLog", "FaultlineAnalysis", "FaultlineReplay"]),
        .executableTarget(name: "faultline-fuzz", dependencies: [
            "FaultlineFuzz", "FaultlineAnalysis", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // What every test target shares: the one way to skip (a failure in CI), reads of
        // output that fail a test instead of trapping. Test-only, so it lives under Tests/.
        .target(name: "FaultlineTestSupport", path: "Tests/FaultlineTestSupport"),

        .testTarget(name: "FaultlineCoreTests", dependencies: ["FaultlineCore", "FaultlineTestSupport"]),
        .testTarget(name: "FaultlineAddressSpaceTests", dependencies: ["FaultlineCore", "FaultlineAddressSpace", "FaultlineTestSupport"]),
        .testTarget(name: "FaultlineLogTests", dependencies: ["FaultlineCore", "FaultlineLog", "FaultlineFuzz", "FaultlineTestSupport", "CZlib"]),
        .testTarget(name: "FaultlineAnalysisTests",
                    dependencies: ["FaultlineCore", "FaultlineLog", "FaultlineAddressSpace", "FaultlineAnalysis", "FaultlineTestSupport"]),
        .testTarget(name: "FaultlineFuzzTests",
                    dependencies: ["FaultlineCore", "FaultlineLog", "FaultlineAnalysis", "FaultlineFuzz", "FaultlineTestSupport"],
                    exclude: ["Reproducers"]),
        .testTarget(name: "FaultlineReplayTests",
                    dependencies: ["FaultlineCore", "FaultlineLog", "FaultlineAddressSpace", "FaultlineReplay", "FaultlineTestSupport"],
                    exclude: ["Fixtures"]),
        // Compiles probe programs with gcc/g++; needs binutils (nm, readelf), no privileges.
        .testTarget(name: "FaultlineSymbolizeTests",
                    dependencies: ["FaultlineCore", "FaultlineSymbolize", "FaultlineAnalysis", "FaultlineTestSupport"]),
        .testTarget(name: "FaultlineIntegrationTests", dependencies: [
            "FaultlineCore", "FaultlineLog", "FaultlineAddressSpace", "FaultlineAnalysis", "FaultlineSymbolize",
            "FaultlineTracer", "FaultlineReplay", "FaultlineTestSupport",
        ]),
        // The tracer's decoding on bytes recorded once (Fixtures/, see its README): perf
        // records and ring buffers checked without root, without perf_event_open.
        .testTarget(name: "FaultlineTracerTests", dependencies: ["FaultlineCore", "FaultlineTracer", "FaultlineTestSupport"],
                    exclude: ["Fixtures"]),
    ]
)

// libFuzzer's target (tools/fuzz --libfuzzer): only with -sanitize=fuzzer, which provides its
// `main`; without it the target could not link, so it exists only when asked for.
if ProcessInfo.processInfo.environment["FAULTLINE_LIBFUZZER"] != nil {
    package.targets.append(.executableTarget(name: "faultline-libfuzzer", dependencies: ["FaultlineFuzz"],
                                             swiftSettings: [.unsafeFlags(["-parse-as-library"])]))
}
