//! Arbitrary bytes -> `parse_options`: never a panic, every refusal with a
//! message, and accepted options within their documented ranges.
#![no_main]

use libfuzzer_sys::fuzz_target;
use test_support::fuzz::checks::check_options;

fuzz_target!(|data: &[u8]| check_options(data));
