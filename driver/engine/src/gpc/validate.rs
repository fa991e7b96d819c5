//! The rules a filter obeys before it enters a classifier.

use super::{Filter, Prefix, ProtocolMatch};
use crate::error::{ConfigError, ErrorKind, Field, Object};
use crate::packet::Family;

/// Largest VLAN id a filter may name (4095 is reserved by 802.1Q). VLAN 0
/// is allowed: it matches priority-tagged frames.
pub const MAX_VLAN_ID: u16 = 4094;
/// Largest DSCP value.
pub const MAX_DSCP: u8 = 63;

/// Checks one prefix against its family's rules.
fn validate_prefix(id: u32, family: Family, p: Prefix, field: Field) -> Result<(), ConfigError> {
    let err = |kind, rule| Err(ConfigError::new(kind, Object::Filter(id), field, rule));
    let (max_len, rule_len) = match family {
        Family::V4 => (32, "IPv4 prefix length must be 0..=32"),
        Family::V6 => (128, "IPv6 prefix length must be 0..=128"),
    };
    if family == Family::V4 && p.addr > u128::from(u32::MAX) {
        return err(
            ErrorKind::InvalidAddressType,
            "IPv4 address must fit in 32 bits (an IPv6 address in an IPv4 filter?)",
        );
    }
    if p.len > max_len {
        return err(ErrorKind::InvalidPrefix, rule_len);
    }
    // Host bits: the bits of the family's width past `len`.
    let width = u32::from(max_len);
    let host_bits = width.saturating_sub(u32::from(p.len));
    let host_mask = if host_bits >= 128 {
        u128::MAX
    } else {
        // host_bits is 0..=127: in range for the shift.
        (1u128 << host_bits).wrapping_sub(1)
    };
    if p.addr & host_mask != 0 {
        return err(
            ErrorKind::InvalidPrefix,
            "address bits past the prefix length must be zero",
        );
    }
    Ok(())
}

/// Checks a filter: prefix lengths per family, host bits zero, IPv4
/// addresses within 32 bits, port ranges `lo <= hi`, port conditions only
/// with a protocol that has ports (TCP, UDP, TCP-or-UDP, any, or protocol
/// number 6 / 17), inbound DSCP 0..=63, VLAN id 0..=4094.
///
/// # Errors
/// The first rule broken, as a [`ConfigError`] naming `Object::Filter(id)`,
/// the field and the rule.
pub fn validate_filter(f: &Filter) -> Result<(), ConfigError> {
    let err = |kind, field, rule| Err(ConfigError::new(kind, Object::Filter(f.id), field, rule));
    validate_prefix(f.id, f.family, f.src, Field::SrcPrefix)?;
    validate_prefix(f.id, f.family, f.dst, Field::DstPrefix)?;
    if f.src_ports.lo > f.src_ports.hi {
        return err(
            ErrorKind::InvalidPortRange,
            Field::SrcPorts,
            "range start must be <= range end",
        );
    }
    if f.dst_ports.lo > f.dst_ports.hi {
        return err(
            ErrorKind::InvalidPortRange,
            Field::DstPorts,
            "range start must be <= range end",
        );
    }
    if f.has_port_condition() {
        let has_ports = match f.protocol {
            ProtocolMatch::Any
            | ProtocolMatch::Tcp
            | ProtocolMatch::Udp
            | ProtocolMatch::TcpOrUdp => true,
            ProtocolMatch::Number(n) => n == 6 || n == 17,
            ProtocolMatch::Icmp => false,
        };
        if !has_ports {
            return err(
                ErrorKind::InvalidProtocol,
                Field::Protocol,
                "port conditions need protocol tcp, udp, tcp-or-udp or any",
            );
        }
    }
    if let Some(dscp) = f.dscp {
        if dscp > MAX_DSCP {
            return err(
                ErrorKind::InvalidDsClass,
                Field::InboundDscp,
                "must be 0..=63",
            );
        }
    }
    if let Some(vid) = f.vlan {
        if vid > MAX_VLAN_ID {
            return err(ErrorKind::InvalidValue, Field::VlanId, "must be 0..=4094");
        }
    }
    Ok(())
}
