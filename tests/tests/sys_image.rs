//! Static checks of qoslwf.sys (built by `cargo make sys`; test-all.sh runs
//! that first): see qoslwf_tests::pe for the rules. Plus proof that the
//! checker can fail: crafted copies of the image, each broken in one way.
//!
//! The image is looked up at $QOSLWF_SYS, else
//! ${CARGO_TARGET_DIR:-target}/x86_64-pc-windows-msvc/release/qoslwf.sys.

use qoslwf_tests::pe::{
    self, ExportLists, Finding, MINGW_LIB_DIR, NEWER_EXPORTS, check_driver_image, imports_of,
    pe_checksum, section_headers, set_checksum, symbol_rva_from_map,
};
use std::path::{Path, PathBuf};

const TRIPLE: &str = "x86_64-pc-windows-msvc";

fn image_path() -> PathBuf {
    if let Some(p) = std::env::var_os("QOSLWF_SYS") {
        return PathBuf::from(p);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| {
            if t.is_absolute() {
                t
            } else {
                workspace.join(t)
            }
        })
        .unwrap_or_else(|| workspace.join("target"));
    target.join(TRIPLE).join("release").join("qoslwf.sys")
}

fn image() -> (PathBuf, Vec<u8>) {
    let path = image_path();
    match std::fs::read(&path) {
        Ok(bytes) => (path, bytes),
        Err(e) => panic!(
            "{}: {e}\nqoslwf.sys has not been built: run `cargo make sys` first \
             (tests/scripts/test-all.sh does), or point QOSLWF_SYS at an image",
            path.display()
        ),
    }
}

/// DriverEntry's RVA from the link map beside the image.
fn driver_entry_rva(path: &Path) -> u32 {
    let map_path = path.with_extension("map");
    let map = std::fs::read_to_string(&map_path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (`cargo make sys` copies the link map beside the image)",
            map_path.display()
        )
    });
    symbol_rva_from_map(&map, "DriverEntry")
        .unwrap_or_else(|| panic!("{}: no DriverEntry in the link map", map_path.display()))
}

fn exports() -> ExportLists {
    ExportLists::from_mingw_dir(Path::new(MINGW_LIB_DIR)).unwrap()
}

fn report(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| format!("  - {f}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn qoslwf_sys_passes_the_static_checks() {
    let (path, bytes) = image();
    let entry = driver_entry_rva(&path);
    let findings = check_driver_image(&bytes, &exports(), Some(entry));
    assert!(
        findings.is_empty(),
        "{}:\n{}",
        path.display(),
        report(&findings)
    );
}

#[test]
fn qoslwf_sys_imports_the_kernel_runtime_it_needs() {
    // The allocator and panic handler of src/rt (or the driver) must be
    // linked in, from ntoskrnl.exe.
    let (_, bytes) = image();
    let imports = imports_of(&bytes).unwrap();
    for name in ["ExAllocatePool2", "ExFreePoolWithTag", "KeBugCheckEx"] {
        assert!(
            imports
                .iter()
                .any(|i| i.module.eq_ignore_ascii_case("ntoskrnl.exe") && i.name == name),
            "ntoskrnl.exe!{name} not imported: {imports:?}"
        );
    }
}

#[test]
fn mingw_import_libraries_are_read() {
    let lists = exports();
    assert!(
        lists.len("ntoskrnl.exe") > 1000,
        "{}",
        lists.len("ntoskrnl.exe")
    );
    assert!(lists.len("hal.dll") > 20, "{}", lists.len("hal.dll"));
    assert!(lists.len("ndis.sys") > 200, "{}", lists.len("ndis.sys"));
    assert!(lists.exports("ntoskrnl.exe", "KeBugCheckEx"));
    assert!(lists.exports("NDIS.SYS", "NdisFRegisterFilterDriver"));
    assert!(!lists.exports("ndis.sys", "KeBugCheckEx"));
    // The allowlist only holds documented names the import libraries
    // really lack (an entry they list is dead weight: remove it).
    for n in NEWER_EXPORTS {
        assert!(!n.source.is_empty(), "{}: no source", n.name);
        assert!(
            !lists.listed(n.module, n.name),
            "{} is in mingw-w64's list now",
            n.name
        );
        assert!(lists.exports(n.module, n.name));
    }
}

#[test]
fn checksum_matches_an_independent_computation() {
    let (_, bytes) = image();
    let stored = u32::from_le_bytes(
        bytes[pe::checksum_offset(&bytes).unwrap()..][..4]
            .try_into()
            .unwrap(),
    );
    assert_ne!(stored, 0);
    assert_eq!(pe_checksum(&bytes), Some(stored));
    // A one-bit change anywhere moves the checksum.
    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert_ne!(pe_checksum(&flipped), Some(stored));
}

/// A copy of the image broken by `edit`, with its checksum fixed up unless
/// `keep_checksum`, so that only the intended rule breaks.
fn broken(bytes: &[u8], keep_checksum: bool, edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut copy = bytes.to_vec();
    edit(&mut copy);
    if !keep_checksum {
        set_checksum(&mut copy).unwrap();
    }
    copy
}

fn lfanew(bytes: &[u8]) -> usize {
    u32::from_le_bytes(bytes[0x3c..0x40].try_into().unwrap()) as usize
}

fn replace_once(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| panic!("{:?} not in the image", String::from_utf8_lossy(from)));
    bytes[at..at + to.len()].copy_from_slice(to);
}

#[test]
fn checker_rejects_crafted_bad_images() {
    let (path, bytes) = image();
    let entry = driver_entry_rva(&path);
    let exports = exports();
    let check = |b: &[u8]| check_driver_image(b, &exports, Some(entry));
    let sections = section_headers(&bytes).unwrap();
    let (first_name, first_header) = sections[0].clone();
    const CHARACTERISTICS: usize = 36;

    let zero = broken(&bytes, false, |b| {
        b[first_header + CHARACTERISTICS..][..4].copy_from_slice(&0u32.to_le_bytes())
    });
    assert!(
        check(&zero).contains(&Finding::ZeroCharacteristics(first_name.clone())),
        "{:?}",
        check(&zero)
    );

    let wx = broken(&bytes, false, |b| {
        let at = first_header + CHARACTERISTICS;
        let flags = u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
        let flags = flags | object::pe::IMAGE_SCN_MEM_WRITE | object::pe::IMAGE_SCN_MEM_EXECUTE;
        b[at..at + 4].copy_from_slice(&flags.to_le_bytes());
    });
    assert!(check(&wx).contains(&Finding::WritableAndExecutable(first_name.clone())));

    let retpoline = broken(&bytes, false, |b| {
        b[first_header..first_header + 8].copy_from_slice(b".retplne")
    });
    assert!(check(&retpoline).contains(&Finding::RetpolineSection));

    let paged = broken(&bytes, false, |b| {
        b[first_header..first_header + 8].copy_from_slice(b"PAGE\0\0\0\0")
    });
    assert!(check(&paged).contains(&Finding::PageableOrDiscardable("PAGE".into())));

    let bad_sum = broken(&bytes, true, |b| {
        let at = pe::checksum_offset(b).unwrap();
        b[at] ^= 0x5a;
    });
    assert!(
        check(&bad_sum)
            .iter()
            .any(|f| matches!(f, Finding::ChecksumWrong { .. }))
    );

    let no_sum = broken(&bytes, true, |b| {
        let at = pe::checksum_offset(b).unwrap();
        b[at..at + 4].copy_from_slice(&[0; 4]);
    });
    assert!(check(&no_sum).contains(&Finding::ChecksumNotSet));

    // OptionalHeader: Subsystem at +68, DllCharacteristics at +70.
    let optional = lfanew(&bytes) + 24;
    let gui = broken(&bytes, false, |b| {
        b[optional + 68..optional + 70].copy_from_slice(&2u16.to_le_bytes())
    });
    assert!(check(&gui).contains(&Finding::Subsystem(2)));

    let no_nx = broken(&bytes, false, |b| {
        let at = optional + 70;
        let v = u16::from_le_bytes([b[at], b[at + 1]])
            & !object::pe::IMAGE_DLLCHARACTERISTICS_NX_COMPAT;
        b[at..at + 2].copy_from_slice(&v.to_le_bytes());
    });
    assert!(check(&no_nx).contains(&Finding::MissingDllCharacteristic("NX_COMPAT")));

    let dll = broken(&bytes, false, |b| {
        let at = lfanew(b) + 4 + 18;
        let v = u16::from_le_bytes([b[at], b[at + 1]]) | 0x2000;
        b[at..at + 2].copy_from_slice(&v.to_le_bytes());
    });
    assert!(check(&dll).contains(&Finding::IsDll));

    // Entry point moved off DriverEntry.
    let moved = broken(&bytes, false, |b| {
        let at = optional + 16;
        b[at..at + 4].copy_from_slice(&(entry + 1).to_le_bytes())
    });
    assert!(check(&moved).contains(&Finding::EntryPoint {
        expected: entry,
        found: entry + 1
    }));

    // Imports: a module that is not allowed, and a name nobody exports.
    let user = broken(&bytes, false, |b| {
        replace_once(b, b"ntoskrnl.exe\0", b"kernel32.dll\0")
    });
    assert!(check(&user).contains(&Finding::UnexpectedModule("kernel32.dll".into())));
    let unknown = broken(&bytes, false, |b| {
        replace_once(b, b"KeBugCheckEx\0", b"KeBugCheckEy\0")
    });
    assert!(
        check(&unknown)
            .iter()
            .any(|f| matches!(f, Finding::UnknownImport(i) if i.name == "KeBugCheckEy"))
    );

    // Not a PE at all.
    assert!(matches!(check(&bytes[..64])[..], [Finding::Unreadable(_)]));
}
