pub mod keywords;
