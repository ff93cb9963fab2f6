// A lock with a condition, for threads that share a queue and wait for each other's
// progress (NamingWorkers). pthread's, because this target has no Foundation and the
// toolchain floor (5.10) has no Synchronization module.
// Hazard: pthread_mutex_t and pthread_cond_t must not move once initialised, so they live
// in memory of their own, never in a Swift property.

import Glibc

final class Monitor {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }

    /// Releases the lock until another thread calls `broadcast` (or spuriously: callers
    /// look again at what they wait for), then holds it again.
    func wait() { pthread_cond_wait(condition, mutex) }

    /// Wakes every waiting thread.
    func broadcast() { pthread_cond_broadcast(condition) }
}
