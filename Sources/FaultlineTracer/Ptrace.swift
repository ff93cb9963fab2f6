// ptrace(2) requests and options (values from <linux/ptrace.h>, which Swift's Glibc module
// does not import as integers), and thin wrappers over the variadic call.

import CFaultlineLinux

enum PtraceRequest: Int32 {
    case cont = 7
    case kill = 8
    case setOptions = 0x4200
    case getEventMessage = 0x4201
    case getSignalInfo = 0x4202
    case seize = 0x4206
    case interrupt = 0x4207
    case listen = 0x4208
    case detach = 17
}

struct PtraceOptions: OptionSet {
    let rawValue: UInt
    static let traceSysGood = PtraceOptions(rawValue: 0x01)
    static let traceFork = PtraceOptions(rawValue: 0x02)
    static let traceVfork = PtraceOptions(rawValue: 0x04)
    static let traceClone = PtraceOptions(rawValue: 0x08)
    static let traceExec = PtraceOptions(rawValue: 0x10)
    static let traceVforkDone = PtraceOptions(rawValue: 0x20)
    static let traceExit = PtraceOptions(rawValue: 0x40)
    static let exitKill = PtraceOptions(rawValue: 0x100000)
}

enum Ptrace {
    /// PTRACE_CONT: resume a stopped tracee, delivering `signal` (0 for none).
    @discardableResult
    static func resume(_ tid: Int32, signal: Int32 = 0) -> Bool {
        fl_ptrace(PtraceRequest.cont.rawValue, tid, 0, UInt(signal)) == 0
    }

    /// PTRACE_SEIZE: trace `tid` without stopping it, with `options`.
    static func seize(_ tid: Int32, _ options: PtraceOptions) throws {
        guard fl_ptrace(PtraceRequest.seize.rawValue, tid, 0, options.rawValue) == 0 else {
            throw SystemError("cannot trace \(tid)")
        }
    }

    /// PTRACE_GETEVENTMSG: the new task's id at a fork/clone event stop.
    static func eventMessage(_ tid: Int32) -> UInt? {
        var message: UInt = 0
        let ok = withUnsafeMutablePointer(to: &message) { p in
            fl_ptrace(PtraceRequest.getEventMessage.rawValue, tid, 0, UInt(bitPattern: p)) == 0
        }
        return ok ? message : nil
    }
}
