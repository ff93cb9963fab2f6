// How a mapping is named for a person. The recorder keeps perf's names ("//anon" for
// anonymous memory, as PERF_RECORD_MMAP2 gives it); reports show what pmap shows.

public enum MappingName {
    /// "[anon]" for perf's "//anon"; every other name as recorded.
    public static func display(_ path: String) -> String {
        path == "//anon" ? "[anon]" : path
    }

    /// Memory no file backs keeps its addresses in pictures: the names the kernel gives it
    /// ("[heap]", "[stack]", "[anon]", "[vdso]") and perf's "//anon".
    public static func isFile(_ path: String) -> Bool {
        path.hasPrefix("/") && !path.hasPrefix("//")
    }
}
