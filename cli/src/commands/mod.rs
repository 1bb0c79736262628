//! One module per subcommand.

pub mod bench;
pub mod demo;
pub mod export;
pub mod generate;
pub mod import;
pub mod share;
pub mod stats;
