#![allow(dead_code)]

pub mod bridge;
pub mod core;
pub mod gammu;
pub mod hilink;
pub mod hs_proxy;
pub mod mmsc;
pub mod mosquitto;
pub mod pymessaging;
pub mod smsc;
pub mod synapse;
pub mod testdata;
pub mod tls;
pub mod venv;
