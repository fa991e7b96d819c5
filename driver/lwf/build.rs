//! Build script of qoslwf: link flags of the kernel image (the `qoslwf` bin,
//! built only with the `sys` feature for a Windows target).
//!
//! The library (the driver's code, and the simulated NDIS on other hosts)
//! needs nothing from here. The image is a PE driver: native subsystem,
//! entry point `DriverEntry`, no default (user-mode CRT) libraries, checksum
//! set (/RELEASE), signature check forced (/INTEGRITYCHECK). The flags are
//! the same for rust-lld (`cargo make sys`, any host) and for the WDK's
//! link.exe (`cargo make package`, Windows).

use std::env;

/// Linker flags of the driver image, for lld-link and link.exe alike.
const DRIVER_LINK_ARGS: &[&str] = &[
    // A kernel-mode driver image of the native subsystem.
    "/DRIVER",
    "/SUBSYSTEM:NATIVE",
    // F's `DriverEntry` (extern "system", no_mangle) is the entry point.
    "/ENTRY:DriverEntry",
    // No user-mode CRT or Windows SDK import libraries: everything the image
    // imports comes from ntoskrnl.exe, hal.dll and ndis.sys (raw-dylib).
    "/NODEFAULTLIB",
    // Set the PE checksum (the kernel loader checks it for boot drivers and
    // the signing tools expect it).
    "/RELEASE",
    // Refuse to load unless signed (FORCE_INTEGRITY), as the WDK does.
    "/INTEGRITYCHECK",
    // An executable gets TERMINAL_SERVER_AWARE by default: meaningless for
    // a driver, and the WDK's images do not carry it.
    "/TSAWARE:NO",
    "/NXCOMPAT",
    "/DYNAMICBASE",
    "/OPT:REF,ICF",
    // A map file beside the image (deps/qoslwf.map): where DriverEntry
    // landed, for the static checks and for reading crash dumps.
    "/MAP",
];

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let sys = env::var_os("CARGO_FEATURE_SYS").is_some();
    if target_os != "windows" || !sys {
        return;
    }
    #[cfg(all(windows, feature = "wdk"))]
    wdk_link_paths();
    for arg in DRIVER_LINK_ARGS {
        println!("cargo::rustc-link-arg-bin=qoslwf={arg}");
    }
}

/// With the `wdk` feature (Windows host with the WDK): let wdk-build find the
/// WDK and emit its library search paths and cfg settings. Its own link
/// flags are for cdylib targets and do not apply to the `qoslwf` bin, which
/// gets [`DRIVER_LINK_ARGS`] instead.
#[cfg(all(windows, feature = "wdk"))]
fn wdk_link_paths() {
    if let Err(e) = wdk_build::configure_wdk_binary_build() {
        panic!("wdk-build could not configure the driver build: {e}");
    }
}
