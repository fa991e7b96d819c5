//! inf/qoslwf.inf: every directive an NDIS lightweight filter of this kind
//! needs (ndis-lwf.md "The INF"), and the names the driver registers
//! (qoslwf::ids) agreeing with it.

use qoslwf::ids;
use qoslwf_tests::inf::{Inf, parse_number};
use std::path::PathBuf;

const NET_SERVICE_CLASS_GUID: &str = "{4D36E974-E325-11CE-BFC1-08002BE10318}";
const NCF_LW_FILTER: u32 = 0x40000;
const FLG_ADDREG_TYPE_MULTI_SZ: u32 = 0x0001_0000;
const FLG_ADDREG_TYPE_DWORD: u32 = 0x0001_0001;

/// What the INF must agree with.
struct Names<'a> {
    friendly: &'a str,
    unique: &'a str,
    service: &'a str,
}

const DRIVER_NAMES: Names<'static> = Names {
    friendly: ids::FRIENDLY_NAME,
    unique: ids::UNIQUE_NAME,
    service: ids::SERVICE_NAME,
};

fn inf_text() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../inf/qoslwf.inf");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every problem of the INF, as readable sentences (empty = good).
fn check(inf: &Inf, names: &Names<'_>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut expect = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };
    let eq = |a: &Option<String>, b: &str| a.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(b));

    // [Version]
    let version = |k: &str| inf.value("Version", k);
    expect(
        eq(&version("Signature"), "$WINDOWS NT$"),
        "[Version] Signature must be \"$WINDOWS NT$\"".into(),
    );
    expect(
        eq(&version("Class"), "NetService"),
        "[Version] Class must be NetService".into(),
    );
    expect(
        eq(&version("ClassGUID"), NET_SERVICE_CLASS_GUID),
        format!("[Version] ClassGUID must be {NET_SERVICE_CLASS_GUID}"),
    );
    expect(
        eq(&version("CatalogFile"), "qoslwf.cat"),
        "[Version] CatalogFile must be qoslwf.cat".into(),
    );
    expect(
        version("Provider").is_some_and(|p| !p.is_empty()),
        "[Version] Provider missing".into(),
    );
    expect(
        version("DriverVer").is_some(),
        "[Version] DriverVer missing".into(),
    );

    // [Manufacturer] -> models section decorated for x64 -> install section.
    let manufacturer = inf.section("Manufacturer").and_then(|s| s.first());
    let (models_base, decorations) = match manufacturer {
        Some(e) => (
            e.values.first().cloned().unwrap_or_default(),
            e.values.get(1..).unwrap_or_default().to_vec(),
        ),
        None => (String::new(), Vec::new()),
    };
    expect(
        decorations
            .iter()
            .any(|d| d.eq_ignore_ascii_case("NTamd64")),
        "[Manufacturer] must decorate the models section with NTamd64".into(),
    );
    let models = inf
        .section(&format!("{models_base}.NTamd64"))
        .unwrap_or_default();
    expect(
        models.len() == 1,
        format!("[{models_base}.NTamd64] must list exactly one model"),
    );
    let model = models.first();
    let description = model.and_then(|m| m.key.clone()).unwrap_or_default();
    let install = model
        .and_then(|m| m.values.first().cloned())
        .unwrap_or_default();
    let component_id = model
        .and_then(|m| m.values.get(1).cloned())
        .unwrap_or_default();
    expect(
        description == names.friendly,
        format!(
            "model description {description:?} must be the driver's FriendlyName {:?}",
            names.friendly
        ),
    );
    expect(
        !component_id.is_empty(),
        "the model has no component id".into(),
    );
    expect(
        inf.section(&install).is_some(),
        format!("install section [{install}] missing"),
    );

    // [Install]
    let characteristics = inf
        .value(&install, "Characteristics")
        .and_then(|c| parse_number(&c));
    expect(
        characteristics == Some(NCF_LW_FILTER),
        format!(
            "[{install}] Characteristics must be 0x40000 (NCF_LW_FILTER), is {characteristics:?}"
        ),
    );
    expect(
        eq(&inf.value(&install, "NetCfgInstanceId"), names.unique),
        format!(
            "[{install}] NetCfgInstanceId must be the driver's UniqueName {}",
            names.unique
        ),
    );
    let copy_files = inf.value(&install, "CopyFiles").unwrap_or_default();
    let copies_sys = inf
        .section(&copy_files)
        .unwrap_or_default()
        .iter()
        .any(|e| {
            e.values
                .first()
                .is_some_and(|f| f.eq_ignore_ascii_case("qoslwf.sys"))
        });
    expect(
        copies_sys,
        format!("[{install}] CopyFiles must copy qoslwf.sys"),
    );
    let in_source_disks = inf
        .section("SourceDisksFiles")
        .unwrap_or_default()
        .iter()
        .any(|e| {
            e.key
                .as_deref()
                .is_some_and(|k| k.eq_ignore_ascii_case("qoslwf.sys"))
        });
    expect(
        in_source_disks,
        "[SourceDisksFiles] must list qoslwf.sys".into(),
    );

    // Ndi registry values.
    let reg: Vec<_> = inf
        .entries(&install, "AddReg")
        .flat_map(|e| e.values.clone())
        .flat_map(|s| inf.add_reg(&s))
        .collect();
    let find = |subkey: &str, name: &str| {
        reg.iter().find(|r| {
            r.root.eq_ignore_ascii_case("HKR")
                && r.subkey.eq_ignore_ascii_case(subkey)
                && r.name.eq_ignore_ascii_case(name)
        })
    };
    let mut string_value = |subkey: &str, name: &str, want: &str| {
        let got = find(subkey, name);
        expect(
            got.is_some_and(|r| r.flags_value() == Some(0) && r.data.eq_ignore_ascii_case(want)),
            format!("HKR,{subkey},{name} must be the string {want:?}, is {got:?}"),
        );
    };
    string_value("Ndi", "Service", names.service);
    string_value("Ndi", "FilterClass", "scheduler");
    string_value("Ndi\\Interfaces", "UpperRange", "noupper");
    string_value("Ndi\\Interfaces", "LowerRange", "nolower");
    let co_services = find("Ndi", "CoServices");
    expect(
        co_services.is_some_and(|r| {
            r.flags_value() == Some(FLG_ADDREG_TYPE_MULTI_SZ)
                && r.data
                    .split(',')
                    .any(|s| s.trim().eq_ignore_ascii_case(names.service))
        }),
        format!(
            "HKR,Ndi,CoServices must be a REG_MULTI_SZ naming {:?}",
            names.service
        ),
    );
    let media = find("Ndi\\Interfaces", "FilterMediaTypes");
    let mut media_types: Vec<String> = media
        .map(|r| {
            r.data
                .split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    media_types.sort();
    expect(
        media.is_some_and(|r| r.flags_value() == Some(0))
            && media_types == ["ethernet", "ppip", "wan"],
        format!("FilterMediaTypes must be ethernet, wan, ppip, is {media_types:?}"),
    );
    for (name, want) in [
        ("FilterType", 2),
        ("FilterRunType", 2),
        ("UnbindOnAttach", 0),
        ("UnbindOnDetach", 0),
    ] {
        let got = find("Ndi", name);
        expect(
            got.is_some_and(|r| {
                r.flags_value() == Some(FLG_ADDREG_TYPE_DWORD)
                    && parse_number(&r.data) == Some(want)
            }),
            format!("HKR,Ndi,{name} must be the DWORD {want}, is {got:?}"),
        );
    }

    // Services.
    let services_section = format!("{install}.Services");
    let add_service = inf.entries(&services_section, "AddService").next();
    let service_name = add_service
        .and_then(|e| e.values.first().cloned())
        .unwrap_or_default();
    expect(
        service_name.eq_ignore_ascii_case(names.service),
        format!(
            "[{services_section}] AddService must install the service {:?}",
            names.service
        ),
    );
    let service = add_service
        .and_then(|e| e.values.get(2).cloned())
        .unwrap_or_default();
    let number = |k: &str| inf.value(&service, k).and_then(|v| parse_number(&v));
    expect(
        number("ServiceType") == Some(1),
        format!("[{service}] ServiceType must be 1 (kernel driver)"),
    );
    expect(
        number("StartType") == Some(1),
        format!("[{service}] StartType must be 1 (system start)"),
    );
    expect(
        number("ErrorControl") == Some(1),
        format!("[{service}] ErrorControl must be 1 (normal)"),
    );
    expect(
        eq(&inf.value(&service, "LoadOrderGroup"), "NDIS"),
        format!("[{service}] LoadOrderGroup must be NDIS"),
    );
    expect(
        inf.value(&service, "ServiceBinary")
            .is_some_and(|b| b.to_ascii_lowercase().ends_with("\\qoslwf.sys")),
        format!("[{service}] ServiceBinary must be ...\\qoslwf.sys"),
    );
    let removes = inf
        .entries(&format!("{install}.Remove.Services"), "DelService")
        .any(|e| {
            e.values
                .first()
                .is_some_and(|s| s.eq_ignore_ascii_case(names.service))
        });
    expect(
        removes,
        format!("[{install}.Remove.Services] must delete the service"),
    );
    problems
}

#[test]
fn inf_has_every_directive_and_agrees_with_the_driver() {
    let inf = Inf::parse(&inf_text()).unwrap();
    let problems = check(&inf, &DRIVER_NAMES);
    assert!(
        problems.is_empty(),
        "inf/qoslwf.inf:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn driver_names_have_the_shape_ndis_expects() {
    // UniqueName is a braced GUID (NetCfgInstanceId); the service name is
    // what the service key and the binary are called.
    let g = ids::UNIQUE_NAME;
    assert_eq!(g.len(), 38);
    assert!(g.starts_with('{') && g.ends_with('}'));
    assert_eq!(ids::SERVICE_NAME, "qoslwf");
}

#[test]
fn checker_rejects_broken_infs() {
    let good = inf_text();
    // Each edit breaks one rule; the checker must say so.
    let cases: &[(&str, &str, &str)] = &[
        (
            "HKR, Ndi, FilterType,  0x00010001, 2",
            "HKR, Ndi, FilterType,  0x00010001, 1",
            "FilterType",
        ),
        (
            "HKR, Ndi, FilterRunType, 0x00010001, 2",
            "HKR, Ndi, FilterRunType, 0x00010001, 1",
            "FilterRunType",
        ),
        (
            "Characteristics  = 0x40000",
            "Characteristics  = 0x4",
            "Characteristics",
        ),
        ("5A3C9E1B-7F42", "5A3C9E1B-7F43", "NetCfgInstanceId"),
        (
            "\"ethernet, wan, ppip\"",
            "\"ethernet, wan\"",
            "FilterMediaTypes",
        ),
        ("QosLwf, NTamd64", "QosLwf", "NTamd64"),
        (
            "LoadOrderGroup = NDIS",
            "LoadOrderGroup = PNP_TDI",
            "LoadOrderGroup",
        ),
        (
            "HKR, Ndi, UnbindOnAttach, 0x00010001, 0",
            "HKR, Ndi, UnbindOnAttach, 0x00010001, 1",
            "UnbindOnAttach",
        ),
        (
            "\"QoS Packet Scheduler (qoslwf)\"",
            "\"Some other name\"",
            "FriendlyName",
        ),
    ];
    for (from, to, rule) in cases {
        assert!(
            good.contains(from),
            "test edit {from:?} no longer matches the INF"
        );
        let bad = good.replacen(from, to, 1);
        let problems = check(&Inf::parse(&bad).unwrap(), &DRIVER_NAMES);
        assert!(
            problems.iter().any(|p| p.contains(rule)),
            "editing {from:?} -> {to:?} should break {rule}, got {problems:?}"
        );
    }
    // And names that disagree with the driver's.
    let inf = Inf::parse(&good).unwrap();
    let wrong = Names {
        service: "other",
        ..DRIVER_NAMES
    };
    let problems = check(&inf, &wrong);
    assert!(
        problems.iter().any(|p| p.contains("Service")),
        "{problems:?}"
    );
}
