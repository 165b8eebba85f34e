//! Gateways for applications: interfaces other programs use to send and receive through
//! the bridge's links.

pub mod kannel;
