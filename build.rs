//! Gives the shared library a SONAME carrying the ABI version
//! (`libzeek_mgmt_agent.so.<ZMA_ABI_VERSION>`), read from `src/ffi.rs` so
//! that the number is written in one place only.

use std::fs;

fn main() {
    println!("cargo:rerun-if-changed=src/ffi.rs");
    let ffi = fs::read_to_string("src/ffi.rs").unwrap_or_default();
    let abi = ffi
        .lines()
        .find_map(|l| l.strip_prefix("pub const ZMA_ABI_VERSION: u32 = "))
        .and_then(|rest| rest.strip_suffix(';'))
        .unwrap_or_else(|| panic!("src/ffi.rs has no `pub const ZMA_ABI_VERSION: u32 = N;`"));
    println!("cargo:rustc-env=ZMA_SONAME_ABI_VERSION={abi}");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libzeek_mgmt_agent.so.{abi}");
    }
}
