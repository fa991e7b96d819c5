//! validate_filter: one test per rule, each checking the error names the
//! filter, the field and the kind.

use qos_engine::error::{ErrorKind, Field, Object};
use qos_engine::gpc::{
    DEFAULT_PRECEDENCE, Filter, PortRange, Prefix, ProtocolMatch, validate_filter,
};
use qos_engine::packet::Family;

fn base(family: Family) -> Filter {
    Filter {
        id: 9,
        flow: 1,
        family,
        src: Prefix::ANY,
        dst: Prefix::ANY,
        src_ports: PortRange::ANY,
        dst_ports: PortRange::ANY,
        protocol: ProtocolMatch::Any,
        dscp: None,
        vlan: None,
        precedence: DEFAULT_PRECEDENCE,
    }
}

fn refused(f: Filter, kind: ErrorKind, field: Field) {
    let e = validate_filter(&f).unwrap_err();
    assert_eq!(e.kind, kind, "{e}");
    assert_eq!(e.field, field, "{e}");
    assert_eq!(e.object, Object::Filter(9), "{e}");
    assert!(!e.rule.is_empty());
    // The message names the field.
    let text = format!("{e}");
    assert!(text.contains(field.name()), "{text}");
}

#[test]
fn valid_filters_pass() {
    let mut f = base(Family::V4);
    f.src = Prefix {
        addr: 0x0A00_0000,
        len: 8,
    };
    f.dst = Prefix {
        addr: 0xC0A8_0101,
        len: 32,
    };
    f.src_ports = PortRange { lo: 0, hi: 0 };
    f.dst_ports = PortRange::single(65535);
    f.protocol = ProtocolMatch::TcpOrUdp;
    f.dscp = Some(63);
    f.vlan = Some(4094);
    f.precedence = 255;
    validate_filter(&f).unwrap();
    let mut g = base(Family::V6);
    g.src = Prefix {
        addr: 0x2001_0db8 << 96,
        len: 32,
    };
    g.dst = Prefix {
        addr: u128::MAX,
        len: 128,
    };
    g.protocol = ProtocolMatch::Icmp;
    g.vlan = Some(0);
    validate_filter(&g).unwrap();
    // Ports with protocol any, or protocol numbers 6 / 17, are fine.
    for p in [
        ProtocolMatch::Any,
        ProtocolMatch::Number(6),
        ProtocolMatch::Number(17),
    ] {
        let h = Filter {
            protocol: p,
            dst_ports: PortRange::single(53),
            ..base(Family::V4)
        };
        validate_filter(&h).unwrap();
    }
}

#[test]
fn prefix_length_per_family() {
    let mut f = base(Family::V4);
    f.src.len = 33;
    refused(f, ErrorKind::InvalidPrefix, Field::SrcPrefix);
    let mut f = base(Family::V6);
    f.dst.len = 129;
    refused(f, ErrorKind::InvalidPrefix, Field::DstPrefix);
}

#[test]
fn host_bits_must_be_zero() {
    let mut f = base(Family::V4);
    f.src = Prefix {
        addr: 0x0A00_0001,
        len: 8,
    };
    refused(f, ErrorKind::InvalidPrefix, Field::SrcPrefix);
    let mut f = base(Family::V6);
    f.dst = Prefix { addr: 1, len: 127 };
    refused(f, ErrorKind::InvalidPrefix, Field::DstPrefix);
    let mut f = base(Family::V6);
    f.dst = Prefix { addr: 1, len: 0 };
    refused(f, ErrorKind::InvalidPrefix, Field::DstPrefix);
}

#[test]
fn ipv4_address_must_fit_32_bits() {
    let mut f = base(Family::V4);
    f.dst = Prefix {
        addr: 1 << 40,
        len: 32,
    };
    refused(f, ErrorKind::InvalidAddressType, Field::DstPrefix);
}

#[test]
fn port_range_lo_le_hi() {
    let mut f = base(Family::V4);
    f.src_ports = PortRange { lo: 2, hi: 1 };
    refused(f, ErrorKind::InvalidPortRange, Field::SrcPorts);
    let mut f = base(Family::V6);
    f.dst_ports = PortRange { lo: 65535, hi: 0 };
    refused(f, ErrorKind::InvalidPortRange, Field::DstPorts);
}

#[test]
fn ports_need_a_protocol_with_ports() {
    for p in [
        ProtocolMatch::Icmp,
        ProtocolMatch::Number(47),
        ProtocolMatch::Number(1),
    ] {
        let f = Filter {
            protocol: p,
            src_ports: PortRange::single(5),
            ..base(Family::V4)
        };
        refused(f, ErrorKind::InvalidProtocol, Field::Protocol);
    }
    // Without port conditions every protocol is fine.
    for p in [
        ProtocolMatch::Icmp,
        ProtocolMatch::Number(47),
        ProtocolMatch::Number(0),
    ] {
        validate_filter(&Filter {
            protocol: p,
            ..base(Family::V6)
        })
        .unwrap();
    }
}

#[test]
fn inbound_dscp_at_most_63() {
    let f = Filter {
        dscp: Some(64),
        ..base(Family::V4)
    };
    refused(f, ErrorKind::InvalidDsClass, Field::InboundDscp);
    assert_eq!(ErrorKind::InvalidDsClass.tc_code(), Some(7520));
}

#[test]
fn vlan_at_most_4094() {
    let f = Filter {
        vlan: Some(4095),
        ..base(Family::V4)
    };
    refused(f, ErrorKind::InvalidValue, Field::VlanId);
}
