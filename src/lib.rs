//! sms-bridge: a Matrix appservice bridge for SMS.

pub mod api;
pub mod app;
pub mod appservice;
pub mod at;
pub mod backend;
pub mod bridge;
pub mod config;
pub mod csv;
pub mod gateway;
pub mod hilink;
pub mod hilink_sim;
pub mod matrix;
pub mod message;
pub mod mms;
pub mod mmsc;
pub mod modem_sim;
pub mod phone;
pub mod registration;
mod sim_stdin;
pub mod smpp;
pub mod sms;
pub mod smsc_sim;
pub mod store;
pub mod throttle;
pub mod when;
