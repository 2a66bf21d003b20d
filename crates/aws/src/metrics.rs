//! Metrics as CloudWatch Embedded Metric Format lines ([`StdoutMetrics`]).

use warden_core::ports::Metrics;

/// EMF lines to standard output, where Lambda sends them to CloudWatch Logs.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdoutMetrics;

impl Metrics for StdoutMetrics {
    fn emit(&self, line: &str) {
        println!("{line}");
    }
}
