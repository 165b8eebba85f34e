#![allow(dead_code)]

pub mod bridge;
pub mod synapse;
