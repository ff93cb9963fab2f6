// Faults counted by pid, each pid once, in the order of its first fault: how replay
// numbers its processes and sizes their page maps. Faults come in runs of one process,
// so the last pid counted is checked before the table.

struct FaultsByPid: Sendable {
    private(set) var inOrder: [(pid: Int32, faults: Int)] = []
    private var slot: [Int32: Int] = [:]
    private var last: (pid: Int32, slot: Int)?

    mutating func add(_ pid: Int32, _ n: Int) {
        if let last, last.pid == pid { inOrder[last.slot].faults += n; return }
        let i = slot[pid] ?? {
            slot[pid] = inOrder.count
            inOrder.append((pid, 0))
            return inOrder.count - 1
        }()
        inOrder[i].faults += n
        last = (pid, i)
    }
}
