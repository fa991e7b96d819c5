//! Static checks of the driver image (qoslwf.sys) as the Windows kernel's
//! loader and the driver-signing tools see it.
//!
//! [`check_driver_image`] reads a PE file and returns every rule it breaks
//! (an empty list = the image passes):
//!
//! - PE32+ for AMD64, not a DLL, subsystem native, entry point = DriverEntry;
//! - DllCharacteristics: NX-compatible, dynamic base, forced integrity
//!   (/INTEGRITYCHECK);
//! - sections: none with zero characteristics (the loader bugchecks 0x1A on
//!   them, a reported lld-link pitfall), none named `.retplne` (lld's
//!   retpoline section, which carries zero characteristics), none both
//!   writable and executable, none pageable (`PAGE*`) or discardable code
//!   (the driver runs at DISPATCH_LEVEL), no TLS (the kernel has none);
//! - imports only from ntoskrnl.exe, hal.dll and ndis.sys, by name, each
//!   name exported by that module: listed in mingw-w64's import library of
//!   it ([`ExportLists`]) or in [`NEWER_EXPORTS`] (newer than those lists,
//!   each with its source);
//! - the PE checksum set and correct ([`pe_checksum`]).

use object::LittleEndian as LE;
use object::pe;
use object::read::archive::ArchiveFile;
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, PeFile64};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

/// The modules a driver image may import from, lower case, with the
/// mingw-w64 import library that lists each one's exports.
pub const ALLOWED_MODULES: &[(&str, &str)] = &[
    ("ntoskrnl.exe", "libntoskrnl.a"),
    ("hal.dll", "libhal.a"),
    ("ndis.sys", "libndis.a"),
];

/// Where Debian's mingw-w64-x86-64-dev installs the import libraries.
pub const MINGW_LIB_DIR: &str = "/usr/x86_64-w64-mingw32/lib";

/// An export that is newer than mingw-w64's import libraries, with the
/// public source that documents it (module, name, source).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewerExport {
    /// Lower-case module name.
    pub module: &'static str,
    /// Exported function name.
    pub name: &'static str,
    /// Where it is documented and since which Windows version.
    pub source: &'static str,
}

/// Exports the image may use although mingw-w64 10's import libraries do
/// not list them. Keep this short: every entry needs a documented source and
/// raises the minimum Windows version the driver loads on.
pub const NEWER_EXPORTS: &[NewerExport] = &[
    NewerExport {
        module: "ntoskrnl.exe",
        name: "ExAllocatePool2",
        source: "Microsoft Learn, ExAllocatePool2 function (wdm.h): \
                 available starting with Windows 10, version 2004",
    },
    NewerExport {
        module: "ntoskrnl.exe",
        name: "ExAllocatePool3",
        source: "Microsoft Learn, ExAllocatePool3 function (wdm.h): \
                 available starting with Windows 10, version 2004",
    },
    NewerExport {
        module: "ntoskrnl.exe",
        name: "KeQueryInterruptTimePrecise",
        source: "Microsoft Learn, KeQueryInterruptTimePrecise function (wdm.h): \
                 available starting with Windows 8.1",
    },
    NewerExport {
        module: "ntoskrnl.exe",
        name: "KeQueryUnbiasedInterruptTimePrecise",
        source: "Microsoft Learn, KeQueryUnbiasedInterruptTimePrecise function \
                 (wdm.h): available starting with Windows 10, version 1803",
    },
];

/// The exports of each allowed module, as the import libraries list them.
#[derive(Debug, Default, Clone)]
pub struct ExportLists {
    modules: BTreeMap<String, BTreeSet<String>>,
}

impl ExportLists {
    /// Reads mingw-w64's import libraries of [`ALLOWED_MODULES`] from `dir`.
    pub fn from_mingw_dir(dir: &Path) -> Result<Self, String> {
        let mut lists = Self::default();
        for (module, lib) in ALLOWED_MODULES {
            let path = dir.join(lib);
            let data = std::fs::read(&path).map_err(|e| {
                format!(
                    "{}: {e} (install Debian's mingw-w64-x86-64-dev: tests/scripts/setup.sh)",
                    path.display()
                )
            })?;
            lists.add_archive(module, &data)?;
        }
        Ok(lists)
    }

    /// Adds the exports that an import library (an `ar` archive) lists for
    /// `module`: every `__imp_NAME` symbol of its symbol table.
    pub fn add_archive(&mut self, module: &str, archive: &[u8]) -> Result<(), String> {
        let file = ArchiveFile::parse(archive).map_err(|e| format!("{module}: {e}"))?;
        let symbols = file
            .symbols()
            .map_err(|e| format!("{module}: {e}"))?
            .ok_or_else(|| format!("{module}: the import library has no symbol table"))?;
        let names = self.modules.entry(module.to_ascii_lowercase()).or_default();
        for symbol in symbols {
            let symbol = symbol.map_err(|e| format!("{module}: {e}"))?;
            if let Some(name) = symbol.name().strip_prefix(b"__imp_") {
                names.insert(String::from_utf8_lossy(name).into_owned());
            }
        }
        Ok(())
    }

    /// Adds names by hand (tests).
    pub fn add_names(&mut self, module: &str, names: &[&str]) {
        let set = self.modules.entry(module.to_ascii_lowercase()).or_default();
        set.extend(names.iter().map(|n| (*n).to_owned()));
    }

    /// Number of exports known for `module`.
    pub fn len(&self, module: &str) -> usize {
        self.modules
            .get(&module.to_ascii_lowercase())
            .map_or(0, BTreeSet::len)
    }

    /// Whether the lists are empty.
    pub fn is_empty(&self) -> bool {
        self.modules.values().all(BTreeSet::is_empty)
    }

    /// Whether the import library of `module` lists `name`.
    pub fn listed(&self, module: &str, name: &str) -> bool {
        self.modules
            .get(&module.to_ascii_lowercase())
            .is_some_and(|s| s.contains(name))
    }

    /// Whether `module` exports `name` (per the lists or [`NEWER_EXPORTS`]).
    pub fn exports(&self, module: &str, name: &str) -> bool {
        let module = module.to_ascii_lowercase();
        self.listed(&module, name)
            || NEWER_EXPORTS
                .iter()
                .any(|n| n.module == module && n.name == name)
    }
}

/// One imported function: module (as written in the image) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Import {
    /// The DLL name in the import descriptor.
    pub module: String,
    /// The function name, or `#ordinal`.
    pub name: String,
}

/// A rule the image breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Not a PE file the `object` crate can read as PE32+.
    Unreadable(String),
    /// FileHeader.Machine is not AMD64 (0x8664).
    Machine(u16),
    /// The DLL bit is set in FileHeader.Characteristics.
    IsDll,
    /// OptionalHeader.Subsystem is not NATIVE (1).
    Subsystem(u16),
    /// The entry point is not DriverEntry.
    EntryPoint {
        /// RVA of DriverEntry (from the link map).
        expected: u32,
        /// AddressOfEntryPoint.
        found: u32,
    },
    /// The entry point is zero or outside every executable section.
    EntryOutsideCode(u32),
    /// A DllCharacteristics bit that must be set is not.
    MissingDllCharacteristic(&'static str),
    /// A section header with Characteristics == 0.
    ZeroCharacteristics(String),
    /// A `.retplne` section.
    RetpolineSection,
    /// A section both writable and executable.
    WritableAndExecutable(String),
    /// A pageable (`PAGE*`) or discardable section other than `.reloc`.
    PageableOrDiscardable(String),
    /// A TLS directory (the kernel does not support TLS in drivers).
    TlsDirectory,
    /// An import from a module other than ntoskrnl.exe, hal.dll, ndis.sys.
    UnexpectedModule(String),
    /// An import by ordinal.
    ImportByOrdinal(Import),
    /// An import name the module does not export.
    UnknownImport(Import),
    /// OptionalHeader.CheckSum is zero.
    ChecksumNotSet,
    /// OptionalHeader.CheckSum differs from the computed checksum.
    ChecksumWrong {
        /// The value in the header.
        stored: u32,
        /// The value computed over the file.
        computed: u32,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable(e) => write!(f, "not a readable PE32+ image: {e}"),
            Self::Machine(m) => write!(f, "machine {m:#06x}, want AMD64 (0x8664)"),
            Self::IsDll => write!(f, "the DLL flag is set (link a bin, not a cdylib)"),
            Self::Subsystem(s) => write!(f, "subsystem {s}, want NATIVE (1)"),
            Self::EntryPoint { expected, found } => write!(
                f,
                "entry point RVA {found:#x} is not DriverEntry ({expected:#x})"
            ),
            Self::EntryOutsideCode(rva) => {
                write!(
                    f,
                    "entry point RVA {rva:#x} is not in an executable section"
                )
            }
            Self::MissingDllCharacteristic(what) => write!(f, "DllCharacteristics lacks {what}"),
            Self::ZeroCharacteristics(s) => {
                write!(
                    f,
                    "section {s:?} has zero characteristics (bugcheck 0x1A on load)"
                )
            }
            Self::RetpolineSection => write!(f, "a .retplne section is present"),
            Self::WritableAndExecutable(s) => write!(f, "section {s:?} is writable and executable"),
            Self::PageableOrDiscardable(s) => {
                write!(
                    f,
                    "section {s:?} is pageable or discardable (code runs at DISPATCH_LEVEL)"
                )
            }
            Self::TlsDirectory => write!(f, "the image has a TLS directory"),
            Self::UnexpectedModule(m) => write!(
                f,
                "imports from {m:?}: only ntoskrnl.exe, hal.dll and ndis.sys are allowed"
            ),
            Self::ImportByOrdinal(i) => write!(f, "{}!{} is imported by ordinal", i.module, i.name),
            Self::UnknownImport(i) => write!(
                f,
                "{}!{} is not exported by {} (not in mingw-w64's import library nor in \
                 pe::NEWER_EXPORTS)",
                i.module, i.name, i.module
            ),
            Self::ChecksumNotSet => write!(f, "the PE checksum is not set (link with /RELEASE)"),
            Self::ChecksumWrong { stored, computed } => {
                write!(f, "PE checksum {stored:#010x}, computed {computed:#010x}")
            }
        }
    }
}

const IMAGE_FILE_DLL: u16 = 0x2000;
const REQUIRED_DLL_CHARACTERISTICS: &[(u16, &str)] = &[
    (pe::IMAGE_DLLCHARACTERISTICS_NX_COMPAT, "NX_COMPAT"),
    (pe::IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE, "DYNAMIC_BASE"),
    (
        pe::IMAGE_DLLCHARACTERISTICS_FORCE_INTEGRITY,
        "FORCE_INTEGRITY",
    ),
];

/// Checks a driver image; `entry_rva` is DriverEntry's RVA (from the link
/// map, [`symbol_rva_from_map`]) when known. Returns every finding.
pub fn check_driver_image(
    data: &[u8],
    exports: &ExportLists,
    entry_rva: Option<u32>,
) -> Vec<Finding> {
    let file = match PeFile64::parse(data) {
        Ok(f) => f,
        Err(e) => return vec![Finding::Unreadable(e.to_string())],
    };
    let mut findings = Vec::new();
    let nt = file.nt_headers();
    let header = nt.file_header();
    let optional = nt.optional_header();

    let machine = header.machine.get(LE);
    if machine != pe::IMAGE_FILE_MACHINE_AMD64 {
        findings.push(Finding::Machine(machine));
    }
    if header.characteristics.get(LE) & IMAGE_FILE_DLL != 0 {
        findings.push(Finding::IsDll);
    }
    let subsystem = optional.subsystem();
    if subsystem != pe::IMAGE_SUBSYSTEM_NATIVE {
        findings.push(Finding::Subsystem(subsystem));
    }
    let dll_characteristics = optional.dll_characteristics();
    for (bit, name) in REQUIRED_DLL_CHARACTERISTICS {
        if dll_characteristics & bit == 0 {
            findings.push(Finding::MissingDllCharacteristic(name));
        }
    }

    // Sections.
    let entry = optional.address_of_entry_point();
    let mut entry_in_code = false;
    for section in file.section_table().iter() {
        let name = section_name(&section.name);
        let flags = section.characteristics.get(LE);
        if flags == 0 {
            findings.push(Finding::ZeroCharacteristics(name.clone()));
        }
        if name == ".retplne" {
            findings.push(Finding::RetpolineSection);
        }
        if flags & pe::IMAGE_SCN_MEM_WRITE != 0 && flags & pe::IMAGE_SCN_MEM_EXECUTE != 0 {
            findings.push(Finding::WritableAndExecutable(name.clone()));
        }
        let discardable = flags & pe::IMAGE_SCN_MEM_DISCARDABLE != 0;
        if name.starts_with("PAGE") || (discardable && name != ".reloc") {
            findings.push(Finding::PageableOrDiscardable(name.clone()));
        }
        let start = section.virtual_address.get(LE);
        let size = section.virtual_size.get(LE);
        if flags & pe::IMAGE_SCN_MEM_EXECUTE != 0
            && entry >= start
            && u64::from(entry) < u64::from(start) + u64::from(size)
        {
            entry_in_code = true;
        }
    }
    if !entry_in_code {
        findings.push(Finding::EntryOutsideCode(entry));
    }
    if let Some(expected) = entry_rva {
        if expected != entry {
            findings.push(Finding::EntryPoint {
                expected,
                found: entry,
            });
        }
    }
    if file
        .data_directory(pe::IMAGE_DIRECTORY_ENTRY_TLS)
        .is_some_and(|d| d.virtual_address.get(LE) != 0)
    {
        findings.push(Finding::TlsDirectory);
    }

    // Imports.
    match image_imports(&file) {
        Ok(imports) => {
            let mut bad_modules = BTreeSet::new();
            for import in imports {
                let module = import.module.to_ascii_lowercase();
                if !ALLOWED_MODULES.iter().any(|(m, _)| *m == module) {
                    if bad_modules.insert(module.clone()) {
                        findings.push(Finding::UnexpectedModule(import.module.clone()));
                    }
                } else if import.name.starts_with('#') {
                    findings.push(Finding::ImportByOrdinal(import));
                } else if !exports.exports(&module, &import.name) {
                    findings.push(Finding::UnknownImport(import));
                }
            }
        }
        Err(e) => findings.push(Finding::Unreadable(e)),
    }

    // Checksum.
    let stored = optional.check_sum();
    if stored == 0 {
        findings.push(Finding::ChecksumNotSet);
    } else if let Some(computed) = pe_checksum(data) {
        if computed != stored {
            findings.push(Finding::ChecksumWrong { stored, computed });
        }
    }
    findings
}

/// Every import of the image, in descriptor order.
pub fn image_imports(file: &PeFile64<'_>) -> Result<Vec<Import>, String> {
    let mut out = Vec::new();
    let Some(table) = file.import_table().map_err(|e| e.to_string())? else {
        return Ok(out);
    };
    let mut descriptors = table.descriptors().map_err(|e| e.to_string())?;
    while let Some(descriptor) = descriptors.next().map_err(|e| e.to_string())? {
        let module = table
            .name(descriptor.name.get(LE))
            .map_err(|e| e.to_string())?;
        let module = String::from_utf8_lossy(module).into_owned();
        // The lookup table (OriginalFirstThunk), or the IAT when absent.
        let first = match descriptor.original_first_thunk.get(LE) {
            0 => descriptor.first_thunk.get(LE),
            rva => rva,
        };
        let mut thunks = table.thunks(first).map_err(|e| e.to_string())?;
        while let Some(thunk) = thunks
            .next::<pe::ImageNtHeaders64>()
            .map_err(|e| e.to_string())?
        {
            let name = match table
                .import::<pe::ImageNtHeaders64>(thunk)
                .map_err(|e| e.to_string())?
            {
                object::read::pe::Import::Ordinal(n) => format!("#{n}"),
                object::read::pe::Import::Name(_, name) => {
                    String::from_utf8_lossy(name).into_owned()
                }
            };
            out.push(Import {
                module: module.clone(),
                name,
            });
        }
    }
    Ok(out)
}

/// Every import of a PE32+ image given as bytes.
pub fn imports_of(data: &[u8]) -> Result<Vec<Import>, String> {
    let file = PeFile64::parse(data).map_err(|e| e.to_string())?;
    image_imports(&file)
}

fn section_name(raw: &[u8; 8]) -> String {
    let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
    String::from_utf8_lossy(&raw[..end]).into_owned()
}

/// File offset of OptionalHeader.CheckSum: e_lfanew + 4 (signature) + 20
/// (file header) + 64 (its offset in both PE32 and PE32+ optional headers).
pub fn checksum_offset(data: &[u8]) -> Option<usize> {
    let lfanew = u32::from_le_bytes(data.get(0x3c..0x40)?.try_into().ok()?) as usize;
    let offset = lfanew.checked_add(4 + 20 + 64)?;
    (offset.checked_add(4)? <= data.len()).then_some(offset)
}

/// The PE image checksum (what link /RELEASE and the kernel's
/// CheckSumMappedFile compute): the one's-complement-style sum of the file
/// as little-endian 16-bit words, skipping the CheckSum field, with carries
/// folded back in, plus the file length.
pub fn pe_checksum(data: &[u8]) -> Option<u32> {
    let skip = checksum_offset(data)?;
    let mut sum: u64 = 0;
    let mut offset = 0usize;
    for chunk in data.chunks(2) {
        if offset != skip && offset != skip + 2 {
            let word = match chunk {
                [lo, hi] => u16::from_le_bytes([*lo, *hi]),
                [lo] => u16::from(*lo),
                _ => 0,
            };
            sum += u64::from(word);
            sum = (sum & 0xffff) + (sum >> 16);
        }
        offset += 2;
    }
    sum = (sum & 0xffff) + (sum >> 16);
    u32::try_from(sum + data.len() as u64).ok()
}

/// Writes the correct checksum into the image; returns it.
pub fn set_checksum(data: &mut [u8]) -> Option<u32> {
    let offset = checksum_offset(data)?;
    let sum = pe_checksum(data)?;
    data.get_mut(offset..offset + 4)?
        .copy_from_slice(&sum.to_le_bytes());
    Some(sum)
}

/// File offsets of the section headers, with their names.
pub fn section_headers(data: &[u8]) -> Option<Vec<(String, usize)>> {
    let lfanew = u32::from_le_bytes(data.get(0x3c..0x40)?.try_into().ok()?) as usize;
    let count = u16::from_le_bytes(data.get(lfanew + 6..lfanew + 8)?.try_into().ok()?);
    let optional_size = u16::from_le_bytes(data.get(lfanew + 20..lfanew + 22)?.try_into().ok()?);
    let first = lfanew + 24 + usize::from(optional_size);
    (0..usize::from(count))
        .map(|i| {
            let at = first + 40 * i;
            let raw: [u8; 8] = data.get(at..at + 8)?.try_into().ok()?;
            Some((section_name(&raw), at))
        })
        .collect()
}

/// The RVA of `symbol` in a link map written by lld-link or link.exe
/// (/MAP): the "Publics by Value" line `SSSS:OOOOOOOO  symbol  Rva+Base ...`
/// minus the "Preferred load address".
pub fn symbol_rva_from_map(map: &str, symbol: &str) -> Option<u32> {
    let base = map.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("Preferred load address is")?;
        u64::from_str_radix(rest.trim(), 16).ok()
    })?;
    map.lines().find_map(|l| {
        let mut words = l.split_whitespace();
        let _section_offset = words.next()?;
        if words.next()? != symbol {
            return None;
        }
        let va = u64::from_str_radix(words.next()?, 16).ok()?;
        u32::try_from(va.checked_sub(base)?).ok()
    })
}
