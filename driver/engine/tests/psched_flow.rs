//! Flow validation rules, default modes and the QOS2 mapping.

use qos_engine::error::{ErrorKind, Field, Object};
use qos_engine::flow::{FlowSpec, Level, SdMode, ServiceType, ShapingBehavior, validate_flow};

fn shaped(rate: u64, bucket: u64) -> FlowSpec {
    FlowSpec {
        service_type: ServiceType::Guaranteed,
        token_rate: Some(rate),
        bucket,
        ..FlowSpec::best_effort("f")
    }
}

fn fails(f: &FlowSpec, kind: ErrorKind, field: Field) {
    let e = validate_flow(7, f).expect_err("must be refused");
    assert_eq!(
        (e.kind, e.field, e.object),
        (kind, field, Object::Flow(7)),
        "{e}"
    );
    assert!(!e.rule.is_empty());
}

#[test]
fn valid_flows_pass() {
    validate_flow(1, &FlowSpec::best_effort("be")).unwrap();
    validate_flow(1, &shaped(125_000, 1500)).unwrap();
    let mut f = shaped(125_000, 3000);
    f.peak_rate = Some(125_000);
    f.max_sdu = Some(1500);
    f.min_policed = 64;
    f.dclass = Some(63);
    f.tclass = Some(7);
    f.name = "x".repeat(256);
    validate_flow(1, &f).unwrap();
    for st in [
        ServiceType::BestEffort,
        ServiceType::Qualitative,
        ServiceType::NetworkControl,
    ] {
        validate_flow(
            1,
            &FlowSpec {
                service_type: st,
                ..FlowSpec::best_effort("n")
            },
        )
        .unwrap();
    }
}

#[test]
fn token_rate_rules() {
    fails(
        &shaped(0, 1500),
        ErrorKind::InvalidTokenRate,
        Field::TokenRate,
    );
    for st in [ServiceType::Guaranteed, ServiceType::ControlledLoad] {
        let f = FlowSpec {
            service_type: st,
            ..FlowSpec::best_effort("x")
        };
        fails(&f, ErrorKind::InvalidTokenRate, Field::TokenRate);
    }
    let f = FlowSpec {
        mode: Some(SdMode::Shape),
        ..FlowSpec::best_effort("x")
    };
    fails(&f, ErrorKind::InvalidTokenRate, Field::TokenRate);
    // Discard or borrow without a rate is allowed (nothing is ever excess).
    for m in [SdMode::Borrow, SdMode::Discard, SdMode::BorrowPlus] {
        validate_flow(
            1,
            &FlowSpec {
                mode: Some(m),
                ..FlowSpec::best_effort("x")
            },
        )
        .unwrap();
    }
}

#[test]
fn peak_rules() {
    let mut f = shaped(1000, 1500);
    f.peak_rate = Some(999);
    fails(&f, ErrorKind::InvalidPeakRate, Field::PeakRate);
    f.peak_rate = Some(0);
    fails(&f, ErrorKind::InvalidPeakRate, Field::PeakRate);
    f.peak_rate = Some(1000);
    validate_flow(1, &f).unwrap();
    let mut be = FlowSpec::best_effort("x");
    be.peak_rate = Some(10);
    validate_flow(1, &be).unwrap();
}

#[test]
fn bucket_and_size_rules() {
    fails(
        &shaped(1000, 0),
        ErrorKind::InvalidValue,
        Field::TokenBucketSize,
    );
    fails(
        &shaped(1000, 1 << 32),
        ErrorKind::InvalidValue,
        Field::TokenBucketSize,
    );
    let mut f = shaped(1000, 1000);
    f.max_sdu = Some(1500);
    fails(&f, ErrorKind::InvalidValue, Field::TokenBucketSize);
    f.max_sdu = Some(0);
    fails(&f, ErrorKind::InvalidValue, Field::MaxSduSize);
    f.max_sdu = Some(100);
    f.min_policed = 101;
    fails(&f, ErrorKind::InvalidValue, Field::MinimumPolicedSize);
    let mut f = shaped(1000, 100);
    f.min_policed = 200;
    fails(&f, ErrorKind::InvalidValue, Field::TokenBucketSize);
}

#[test]
fn marks_and_name_rules() {
    let mut f = FlowSpec::best_effort("x");
    f.dclass = Some(64);
    fails(&f, ErrorKind::InvalidDsClass, Field::DsClass);
    let mut f = FlowSpec::best_effort("x");
    f.tclass = Some(8);
    fails(&f, ErrorKind::InvalidTrafficClass, Field::TrafficClass);
    let f = FlowSpec::best_effort(&"é".repeat(257));
    fails(&f, ErrorKind::ObjectLengthInvalid, Field::Name);
    // 256 characters outside the BMP are 512 UTF-16 units.
    let f = FlowSpec::best_effort(&"😀".repeat(200));
    fails(&f, ErrorKind::ObjectLengthInvalid, Field::Name);
}

#[test]
fn error_display_names_field_rule_and_tc_code() {
    let e = validate_flow(3, &shaped(1000, 1500).clone_with_peak(10)).unwrap_err();
    let s = e.to_string();
    assert!(
        s.contains("flow 3") && s.contains("peak") && s.contains(">= rate") && s.contains("7504"),
        "{s}"
    );
}

trait WithPeak {
    fn clone_with_peak(&self, p: u64) -> FlowSpec;
}
impl WithPeak for FlowSpec {
    fn clone_with_peak(&self, p: u64) -> FlowSpec {
        FlowSpec {
            peak_rate: Some(p),
            ..self.clone()
        }
    }
}

#[test]
fn default_modes() {
    let mk = |st| FlowSpec {
        service_type: st,
        token_rate: Some(1000),
        bucket: 1500,
        ..FlowSpec::best_effort("x")
    };
    assert_eq!(mk(ServiceType::Guaranteed).effective_mode(), SdMode::Shape);
    for st in [
        ServiceType::BestEffort,
        ServiceType::ControlledLoad,
        ServiceType::NetworkControl,
        ServiceType::Qualitative,
    ] {
        assert_eq!(mk(st).effective_mode(), SdMode::Borrow, "{st:?}");
    }
    let mut f = mk(ServiceType::Guaranteed);
    f.mode = Some(SdMode::Discard);
    assert_eq!(f.effective_mode(), SdMode::Discard);
}

#[test]
fn qos2_shaping_behaviours() {
    let base = FlowSpec {
        token_rate: Some(1000),
        bucket: 1500,
        ..FlowSpec::best_effort("q")
    };
    for (b, m) in [
        (ShapingBehavior::ShapeOnly, SdMode::Shape),
        (ShapingBehavior::ShapeAndMark, SdMode::Shape),
        (ShapingBehavior::UseNonConformantMarkings, SdMode::Borrow),
    ] {
        let f = FlowSpec {
            shaping: Some(b),
            ..base.clone()
        };
        assert_eq!(f.effective_mode(), m);
        validate_flow(1, &f).unwrap();
        // An explicit SD_MODE that agrees is fine, a contradicting one is not.
        validate_flow(
            1,
            &FlowSpec {
                mode: Some(m),
                ..f.clone()
            },
        )
        .unwrap();
        let other = if m == SdMode::Shape {
            SdMode::Borrow
        } else {
            SdMode::Shape
        };
        fails(
            &FlowSpec {
                mode: Some(other),
                ..f.clone()
            },
            ErrorKind::InvalidSdMode,
            Field::Mode,
        );
        // QOS2 always has a rate.
        fails(
            &FlowSpec {
                token_rate: None,
                ..f
            },
            ErrorKind::InvalidShapeRate,
            Field::ShapingBehavior,
        );
    }
}

#[test]
fn levels_and_raw_values() {
    assert!(Level::NetworkControl < Level::Guaranteed);
    assert!(Level::Guaranteed < Level::ControlledLoad);
    assert!(Level::ControlledLoad < Level::BestEffort);
    assert!(Level::BestEffort < Level::Qualitative);
    assert!(Level::Qualitative < Level::NonConforming);
    for (i, l) in Level::ALL.iter().enumerate() {
        assert_eq!(l.index(), i);
        assert_eq!(Level::from_index(i), Some(*l));
    }
    assert_eq!(Level::from_index(6), None);
    assert_eq!(ServiceType::from_raw(0x3), Some(ServiceType::Guaranteed));
    assert_eq!(
        ServiceType::from_raw(0xA).map(ServiceType::level),
        Some(Level::NetworkControl)
    );
    for bad in [0, 4, 5, 6, 9, 0xFFFF_FFFF] {
        assert_eq!(ServiceType::from_raw(bad), None);
    }
    assert_eq!(SdMode::from_raw(3), Some(SdMode::BorrowPlus));
    assert_eq!(SdMode::from_raw(4), None);
}
