//! CPU time and memory of a process, from Linux's /proc.

use std::time::Duration;

/// Clock ticks per second of `utime`/`stime` in /proc/PID/stat. Linux fixes USER_HZ at 100
/// on every architecture it exports to user space this way.
const USER_HZ: u64 = 100;

/// Which process: ourselves or another one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pid {
    /// The current process (`/proc/self`).
    SelfProcess,
    /// Another process.
    Other(u32),
}

impl Pid {
    fn dir(self) -> String {
        match self {
            Pid::SelfProcess => "/proc/self".to_owned(),
            Pid::Other(pid) => format!("/proc/{pid}"),
        }
    }
}

/// User plus system CPU time of the process, all threads, from /proc/PID/stat
/// (fields 14 and 15, `utime` and `stime`). `None` if the process is gone or the file has
/// an unexpected shape.
pub fn cpu_time(pid: Pid) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("{}/stat", pid.dir())).ok()?;
    parse_stat_cpu(&stat)
}

/// The CPU time in the text of a /proc/PID/stat file.
pub fn parse_stat_cpu(stat: &str) -> Option<Duration> {
    // The command name (field 2) is in parentheses and may contain spaces or ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    // `rest` starts at field 3 (state): utime is field 14, i.e. the 12th here.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime + stime;
    Some(Duration::from_millis(ticks * 1000 / USER_HZ))
}

/// Memory figures from /proc/PID/status, in kB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// Peak resident set size (`VmHWM`).
    pub peak_rss_kb: u64,
    /// Current resident set size (`VmRSS`).
    pub rss_kb: u64,
}

/// The process's resident memory, or `None` if it is gone.
pub fn memory(pid: Pid) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("{}/status", pid.dir())).ok()?;
    Some(parse_status_memory(&status))
}

/// The memory figures in the text of a /proc/PID/status file.
pub fn parse_status_memory(status: &str) -> Memory {
    let mut m = Memory::default();
    for line in status.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let kb = || {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .unwrap_or(0)
        };
        match key {
            "VmHWM" => m.peak_rss_kb = kb(),
            "VmRSS" => m.rss_kb = kb(),
            _ => {}
        }
    }
    m
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn parses_stat_with_awkward_command_names() {
        let stat = "1234 (a b) c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 1 2 3";
        assert_eq!(parse_stat_cpu(stat), Some(Duration::from_millis(3250)));
        assert_eq!(parse_stat_cpu("garbage"), None);
    }

    #[test]
    fn reads_own_process() {
        assert!(cpu_time(Pid::SelfProcess).is_some());
        let m = memory(Pid::SelfProcess).unwrap();
        assert!(m.peak_rss_kb >= m.rss_kb && m.rss_kb > 0);
    }

    #[test]
    fn parses_status() {
        let m = parse_status_memory("Name:\tacs\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\n");
        assert_eq!(
            m,
            Memory {
                peak_rss_kb: 51200,
                rss_kb: 40960
            }
        );
    }
}
