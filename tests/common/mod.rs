#![allow(dead_code)]

pub mod bridge;
pub mod pymessaging;
pub mod smsc;
pub mod synapse;
pub mod venv;
