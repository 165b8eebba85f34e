//! For applications, the parts that need no bridge: the Kannel codec (`sendsms`, dlr-url),
//! keyword services (Kannel's sms-service) and the MQTT transport. The HTTP API that uses
//! them is in `api/`, the queues in `bridge/gateway.rs`.

pub mod kannel;
pub mod keywords;
pub mod mqtt;
