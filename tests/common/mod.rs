#![allow(dead_code)]

pub mod synapse;
