//! Which marks a packet gets: the default tables, per-flow overrides,
//! non-conforming packets, QOS2 behaviours, and table validation.

use qos_engine::error::{ErrorKind, Field, Object};
use qos_engine::flow::{FlowSpec, ServiceType, ShapingBehavior};
use qos_engine::mark::{MarkMaps, Marks, PerServiceType, decide, validate_maps};

const TYPES: [ServiceType; 5] = [
    ServiceType::BestEffort,
    ServiceType::ControlledLoad,
    ServiceType::Guaranteed,
    ServiceType::NetworkControl,
    ServiceType::Qualitative,
];

fn flow(st: ServiceType) -> FlowSpec {
    let mut f = FlowSpec::best_effort("f");
    f.service_type = st;
    f
}

#[test]
fn windows_default_tables() {
    let maps = MarkMaps::default();
    // (service type, conforming DSCP, non-conforming DSCP, 802.1p)
    let table = [
        (ServiceType::BestEffort, 0, 0, 0),
        (ServiceType::ControlledLoad, 24, 0, 4),
        (ServiceType::Guaranteed, 40, 0, 5),
        (ServiceType::NetworkControl, 48, 0, 7),
        (ServiceType::Qualitative, 0, 0, 0),
    ];
    for (st, dscp, nc_dscp, pcp) in table {
        assert_eq!(
            decide(&maps, &flow(st), true),
            Marks {
                dscp: Some(dscp),
                pcp: Some(pcp)
            },
            "{st:?} conforming"
        );
        assert_eq!(
            decide(&maps, &flow(st), false),
            Marks {
                dscp: Some(nc_dscp),
                pcp: Some(1)
            },
            "{st:?} non-conforming"
        );
    }
    assert_eq!(validate_maps(&maps), Ok(()));
}

#[test]
fn per_adapter_tables_are_used() {
    let mut maps = MarkMaps::default();
    maps.conforming_dscp.set(ServiceType::Guaranteed, 46);
    maps.non_conforming_dscp.set(ServiceType::Guaranteed, 8);
    maps.priority.set(ServiceType::Guaranteed, 6);
    maps.non_conforming_priority = 0;
    let f = flow(ServiceType::Guaranteed);
    assert_eq!(
        decide(&maps, &f, true),
        Marks {
            dscp: Some(46),
            pcp: Some(6)
        }
    );
    assert_eq!(
        decide(&maps, &f, false),
        Marks {
            dscp: Some(8),
            pcp: Some(0)
        }
    );
    // Other service types keep their defaults.
    assert_eq!(
        decide(&maps, &flow(ServiceType::ControlledLoad), true).dscp,
        Some(24)
    );
}

#[test]
fn dclass_and_tclass_override_conforming_only() {
    let maps = MarkMaps::default();
    for st in TYPES {
        let mut f = flow(st);
        f.dclass = Some(34);
        f.tclass = Some(3);
        assert_eq!(
            decide(&maps, &f, true),
            Marks {
                dscp: Some(34),
                pcp: Some(3)
            }
        );
        assert_eq!(
            decide(&maps, &f, false),
            Marks {
                dscp: Some(maps.non_conforming_dscp.get(st)),
                pcp: Some(maps.non_conforming_priority)
            }
        );
        // One override alone.
        f.tclass = None;
        assert_eq!(decide(&maps, &f, true).pcp, Some(maps.priority.get(st)));
        assert_eq!(decide(&maps, &f, true).dscp, Some(34));
    }
}

#[test]
fn qos2_behaviours() {
    let maps = MarkMaps::default();
    let mut f = flow(ServiceType::Guaranteed);
    f.dclass = Some(46);
    f.shaping = Some(ShapingBehavior::ShapeOnly);
    for conforming in [true, false] {
        assert_eq!(decide(&maps, &f, conforming).dscp, None, "ShapeOnly");
    }
    assert_eq!(decide(&maps, &f, true).pcp, Some(5));
    f.shaping = Some(ShapingBehavior::ShapeAndMark);
    assert_eq!(decide(&maps, &f, true).dscp, Some(46));
    f.shaping = Some(ShapingBehavior::UseNonConformantMarkings);
    assert_eq!(decide(&maps, &f, true).dscp, Some(46));
    assert_eq!(
        decide(&maps, &f, false),
        Marks {
            dscp: Some(0),
            pcp: Some(1)
        },
        "excess gets the non-conforming marks"
    );
}

#[test]
fn validation_names_the_table() {
    let check = |maps: MarkMaps, field: Field, kind: ErrorKind| {
        let e = validate_maps(&maps).unwrap_err();
        assert_eq!(e.field, field);
        assert_eq!(e.kind, kind);
        assert_eq!(e.object, Object::MappingTable);
        assert_eq!(maps.validate(), Err(e));
        assert!(e.to_string().contains(field.name()), "{e}");
    };
    for st in TYPES {
        let mut m = MarkMaps::default();
        m.conforming_dscp.set(st, 64);
        check(m, Field::MapConformingDscp, ErrorKind::InvalidDsClass);
        let mut m = MarkMaps::default();
        m.non_conforming_dscp.set(st, 255);
        check(m, Field::MapNonConformingDscp, ErrorKind::InvalidDsClass);
        let mut m = MarkMaps::default();
        m.priority.set(st, 8);
        check(m, Field::MapPriority, ErrorKind::InvalidTrafficClass);
    }
    let m = MarkMaps {
        non_conforming_priority: 8,
        ..MarkMaps::default()
    };
    check(
        m,
        Field::MapNonConformingPriority,
        ErrorKind::InvalidTrafficClass,
    );
    // The limits themselves are accepted.
    let m = MarkMaps {
        conforming_dscp: PerServiceType::all(63),
        non_conforming_dscp: PerServiceType::all(63),
        priority: PerServiceType::all(7),
        non_conforming_priority: 7,
    };
    assert_eq!(validate_maps(&m), Ok(()));
}

#[test]
fn per_service_type_accessors() {
    let mut t = PerServiceType::all(0);
    for (i, st) in TYPES.into_iter().enumerate() {
        t.set(st, i as u8 + 10);
    }
    let got: Vec<_> = t.iter().collect();
    assert_eq!(got.len(), 5);
    for (i, (st, v)) in got.into_iter().enumerate() {
        assert_eq!(st, TYPES[i]);
        assert_eq!(v, i as u8 + 10);
        assert_eq!(t.get(st), v);
    }
}
