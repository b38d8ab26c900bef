//! Arbitrary bytes -> the event decoder (and the configuration decoder);
//! what decodes must re-encode as plain JSON in every dialect and then
//! round-trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use test_support::fuzz::checks::check_decode;
use zeek_mgmt_agent::wire::Encoding;

fuzz_target!(|data: &[u8]| check_decode(data, Encoding::Plain));
