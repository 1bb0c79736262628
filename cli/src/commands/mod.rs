//! One module per subcommand.

pub mod bench;
pub mod bench_http;
pub mod bench_import;
pub mod bench_share;
pub mod demo;
pub mod export;
pub mod generate;
pub mod import;
pub mod privacy;
pub mod records;
pub mod remote;
pub mod serve;
pub mod share;
pub mod stats;
