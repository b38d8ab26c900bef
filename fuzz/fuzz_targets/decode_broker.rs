//! Arbitrary bytes -> the event decoder (and the configuration decoder);
//! what decodes must re-encode as Broker JSON in every dialect and then
//! round-trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zeek_mgmt_agent::wire::Encoding;
use zeek_mgmt_agent_fuzz::checks::check_decode;

fuzz_target!(|data: &[u8]| check_decode(data, Encoding::Broker));
