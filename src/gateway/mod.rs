//! The application gateway: interfaces for scripts and home automation.

pub mod mqtt;
