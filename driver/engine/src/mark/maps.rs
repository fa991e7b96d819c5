//! The adapter's mapping tables and the choice of marks for one packet.

use crate::error::{ConfigError, ErrorKind, Field, Object};
use crate::flow::{FlowSpec, ServiceType, ShapingBehavior};

/// One value per service type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PerServiceType {
    /// SERVICETYPE_BESTEFFORT.
    pub best_effort: u8,
    /// SERVICETYPE_CONTROLLEDLOAD.
    pub controlled_load: u8,
    /// SERVICETYPE_GUARANTEED.
    pub guaranteed: u8,
    /// SERVICETYPE_NETWORK_CONTROL.
    pub network_control: u8,
    /// SERVICETYPE_QUALITATIVE.
    pub qualitative: u8,
}

impl PerServiceType {
    /// The same value for every service type.
    #[must_use]
    pub const fn all(value: u8) -> Self {
        Self {
            best_effort: value,
            controlled_load: value,
            guaranteed: value,
            network_control: value,
            qualitative: value,
        }
    }

    /// The value for `st`.
    #[must_use]
    #[inline]
    pub const fn get(&self, st: ServiceType) -> u8 {
        match st {
            ServiceType::BestEffort => self.best_effort,
            ServiceType::ControlledLoad => self.controlled_load,
            ServiceType::Guaranteed => self.guaranteed,
            ServiceType::NetworkControl => self.network_control,
            ServiceType::Qualitative => self.qualitative,
        }
    }

    /// Sets the value for `st`.
    pub const fn set(&mut self, st: ServiceType, value: u8) {
        match st {
            ServiceType::BestEffort => self.best_effort = value,
            ServiceType::ControlledLoad => self.controlled_load = value,
            ServiceType::Guaranteed => self.guaranteed = value,
            ServiceType::NetworkControl => self.network_control = value,
            ServiceType::Qualitative => self.qualitative = value,
        }
    }

    /// Every (service type, value) pair, in qos.h order.
    pub fn iter(&self) -> impl Iterator<Item = (ServiceType, u8)> + '_ {
        [
            ServiceType::BestEffort,
            ServiceType::ControlledLoad,
            ServiceType::Guaranteed,
            ServiceType::NetworkControl,
            ServiceType::Qualitative,
        ]
        .into_iter()
        .map(|st| (st, self.get(st)))
    }
}

/// An adapter's mapping tables (Windows' DiffservByteMappingConforming,
/// DiffservByteMappingNonConforming, UserPriorityMapping). [`Default`] gives
/// Windows' defaults:
///
/// | service type   | conforming DSCP | non-conforming DSCP | 802.1p |
/// |----------------|-----------------|---------------------|--------|
/// | BestEffort     | 0               | 0                   | 0      |
/// | ControlledLoad | 24              | 0                   | 4      |
/// | Guaranteed     | 40              | 0                   | 5      |
/// | NetworkControl | 48              | 0                   | 7      |
/// | Qualitative    | 0               | 0                   | 0      |
/// | non-conforming | -               | -                   | 1      |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MarkMaps {
    /// DSCP of conforming packets, 0..=63.
    pub conforming_dscp: PerServiceType,
    /// DSCP of non-conforming packets, 0..=63.
    pub non_conforming_dscp: PerServiceType,
    /// 802.1p of conforming packets, 0..=7.
    pub priority: PerServiceType,
    /// 802.1p of every non-conforming packet, 0..=7.
    pub non_conforming_priority: u8,
}

impl Default for MarkMaps {
    fn default() -> Self {
        Self {
            conforming_dscp: PerServiceType {
                best_effort: 0,
                controlled_load: 24,
                guaranteed: 40,
                network_control: 48,
                qualitative: 0,
            },
            non_conforming_dscp: PerServiceType::all(0),
            priority: PerServiceType {
                best_effort: 0,
                controlled_load: 4,
                guaranteed: 5,
                network_control: 7,
                qualitative: 0,
            },
            non_conforming_priority: 1,
        }
    }
}

impl MarkMaps {
    /// Checks every value's range; see [`validate_maps`].
    ///
    /// # Errors
    ///
    /// The first value out of range, as [`validate_maps`] reports it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_maps(self)
    }
}

/// Checks that every DSCP is 0..=63 and every 802.1p 0..=7.
///
/// # Errors
///
/// [`ConfigError`] on [`Object::MappingTable`] naming the table
/// ([`Field::MapConformingDscp`], [`Field::MapNonConformingDscp`],
/// [`Field::MapPriority`], [`Field::MapNonConformingPriority`]) with kind
/// `InvalidDsClass` (DSCP) or `InvalidTrafficClass` (802.1p).
pub fn validate_maps(maps: &MarkMaps) -> Result<(), ConfigError> {
    const DSCP_RULE: &str = "must be a DSCP 0..=63";
    const PCP_RULE: &str = "must be an 802.1p priority 0..=7";
    let bad = |kind, field, rule| Err(ConfigError::new(kind, Object::MappingTable, field, rule));
    if maps.conforming_dscp.iter().any(|(_, v)| v > 63) {
        return bad(
            ErrorKind::InvalidDsClass,
            Field::MapConformingDscp,
            DSCP_RULE,
        );
    }
    if maps.non_conforming_dscp.iter().any(|(_, v)| v > 63) {
        return bad(
            ErrorKind::InvalidDsClass,
            Field::MapNonConformingDscp,
            DSCP_RULE,
        );
    }
    if maps.priority.iter().any(|(_, v)| v > 7) {
        return bad(ErrorKind::InvalidTrafficClass, Field::MapPriority, PCP_RULE);
    }
    if maps.non_conforming_priority > 7 {
        return bad(
            ErrorKind::InvalidTrafficClass,
            Field::MapNonConformingPriority,
            PCP_RULE,
        );
    }
    Ok(())
}

/// The marks one packet gets. `None` = leave that mark as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Marks {
    /// DSCP to write, 0..=63.
    pub dscp: Option<u8>,
    /// 802.1p to write, 0..=7 (in the in-band tag if the frame has one,
    /// else out of band).
    pub pcp: Option<u8>,
}

/// The marks for a packet of `flow`, given whether the conformer found it
/// conforming.
///
/// - Conforming: the flow's DCLASS, else the conforming DSCP of its service
///   type; the flow's TCLASS, else the 802.1p of its service type.
/// - Non-conforming: the non-conforming DSCP of its service type and the
///   non-conforming 802.1p, **even when the flow has DCLASS/TCLASS**. The
///   per-flow overrides say how the flow's traffic within its contract is
///   treated; excess traffic is demoted the same way for every flow, which
///   is what the non-conforming tables exist for (and what lets a network
///   police excess traffic by its mark).
/// - QOS2 `ShapeOnly`: no DSCP is written (`dscp: None`), 802.1p as above.
/// - QOS2 `UseNonConformantMarkings` needs nothing here: the scheduler sends
///   excess packets at once with `conforming == false`, so they get the
///   non-conforming marks.
///
/// The maps are assumed valid ([`validate_maps`]); out-of-range values are
/// masked when written, never trusted for indexing.
#[must_use]
#[inline]
pub fn decide(maps: &MarkMaps, flow: &FlowSpec, conforming: bool) -> Marks {
    let st = flow.service_type;
    let (dscp, pcp) = if conforming {
        (
            flow.dclass.unwrap_or(maps.conforming_dscp.get(st)),
            flow.tclass.unwrap_or(maps.priority.get(st)),
        )
    } else {
        (
            maps.non_conforming_dscp.get(st),
            maps.non_conforming_priority,
        )
    };
    let dscp = match flow.shaping {
        Some(ShapingBehavior::ShapeOnly) => None,
        _ => Some(dscp),
    };
    Marks {
        dscp,
        pcp: Some(pcp),
    }
}

/// One flow's marks decided once per configuration: what [`decide`] returns
/// for a conforming and for a non-conforming packet of the flow. Eight
/// bytes per flow, so a table of them for every flow stays in cache where
/// the flow specifications (names and all) would not: the per-packet mark
/// decision is then one load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FlowMarks {
    /// Marks of a conforming packet.
    pub conforming: Marks,
    /// Marks of a non-conforming packet.
    pub non_conforming: Marks,
}

impl FlowMarks {
    /// The marks of `flow` under `maps`.
    #[must_use]
    pub fn new(maps: &MarkMaps, flow: &FlowSpec) -> Self {
        Self {
            conforming: decide(maps, flow, true),
            non_conforming: decide(maps, flow, false),
        }
    }

    /// The marks of a packet, given whether it conforms: the same as
    /// `decide(maps, flow, conforming)` for the maps and flow this was made
    /// from.
    #[must_use]
    #[inline]
    pub const fn get(&self, conforming: bool) -> Marks {
        if conforming {
            self.conforming
        } else {
            self.non_conforming
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `FlowMarks::get` is `decide`, for every service type, override and
    /// QOS2 behaviour, under default and custom tables.
    #[test]
    fn flow_marks_agree_with_decide() {
        let mut custom = MarkMaps {
            non_conforming_dscp: PerServiceType::all(8),
            non_conforming_priority: 2,
            ..MarkMaps::default()
        };
        custom.conforming_dscp.set(ServiceType::BestEffort, 10);
        let types = [
            ServiceType::BestEffort,
            ServiceType::ControlledLoad,
            ServiceType::Guaranteed,
            ServiceType::NetworkControl,
            ServiceType::Qualitative,
        ];
        let shapings = [
            None,
            Some(ShapingBehavior::ShapeOnly),
            Some(ShapingBehavior::ShapeAndMark),
            Some(ShapingBehavior::UseNonConformantMarkings),
        ];
        for maps in [MarkMaps::default(), custom] {
            for st in types {
                for dclass in [None, Some(46)] {
                    for tclass in [None, Some(3)] {
                        for shaping in shapings {
                            let mut f = FlowSpec::best_effort("f");
                            f.service_type = st;
                            f.dclass = dclass;
                            f.tclass = tclass;
                            f.shaping = shaping;
                            let m = FlowMarks::new(&maps, &f);
                            for conforming in [true, false] {
                                assert_eq!(m.get(conforming), decide(&maps, &f, conforming));
                            }
                        }
                    }
                }
            }
        }
    }
}
