#![allow(dead_code)]

pub mod bridge;
pub mod mmsc;
pub mod pymessaging;
pub mod smsc;
pub mod synapse;
pub mod tls;
pub mod venv;
