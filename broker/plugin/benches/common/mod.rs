//! What the benchmarks read of the process itself.

/// CPU time the process used so far (user and system, all threads), ns.
pub(crate) fn cpu_ns() -> f64 {
    // Fields 14 and 15 of /proc/self/stat, in clock ticks of 10 ms (USER_HZ is 100 on
    // Linux); the second field (the command) may hold spaces, so count after it.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    ticks as f64 * 1e7
}
