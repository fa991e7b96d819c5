//! Naming an adapter the way administrators do: by name, friendly name,
//! GUID or index.

use qos_proto::AdapterInfo;

use crate::error::Error;

/// The interface GUID as Windows prints it: `{XXXXXXXX-XXXX-...}` from the
/// in-memory layout (Data1 u32 LE, Data2 u16 LE, Data3 u16 LE, Data4 bytes).
#[must_use]
pub fn guid_text(g: &[u8; 16]) -> String {
    let [a0, a1, a2, a3, b0, b1, c0, c1, d @ ..] = *g;
    let [d0, d1, d2, d3, d4, d5, d6, d7] = d;
    format!(
        "{{{:08X}-{:04X}-{:04X}-{d0:02X}{d1:02X}-{d2:02X}{d3:02X}{d4:02X}{d5:02X}{d6:02X}{d7:02X}}}",
        u32::from_le_bytes([a0, a1, a2, a3]),
        u16::from_le_bytes([b0, b1]),
        u16::from_le_bytes([c0, c1]),
    )
}

/// Parses a GUID with or without braces, any case.
#[must_use]
pub fn parse_guid(text: &str) -> Option<[u8; 16]> {
    let t = text.trim();
    let t = t
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or(t);
    let parts: Vec<&str> = t.split('-').collect();
    let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
    if lens != [8, 4, 4, 4, 12] || !t.chars().all(|c| c == '-' || c.is_ascii_hexdigit()) {
        return None;
    }
    let hex: String = parts.concat();
    let mut bytes = [0u8; 16];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    // Text order is big-endian for Data1..3; memory order is little-endian.
    bytes[0..4].reverse();
    bytes[4..6].reverse();
    bytes[6..8].reverse();
    Some(bytes)
}

/// Finds the adapter `wanted` names among `adapters`.
///
/// Tried in order: the index (a decimal number), the GUID (with or without
/// braces; also inside a `\DEVICE\{GUID}` name), then the name and the
/// friendly name (exact, then case-insensitive). With no name given, the
/// only adapter, if there is just one.
///
/// # Errors
/// [`Error::NotFound`] naming what is there, or [`Error::Invalid`] when
/// the name matches several adapters.
pub fn resolve<'a>(
    adapters: &'a [AdapterInfo],
    wanted: Option<&str>,
) -> Result<&'a AdapterInfo, Error> {
    let listing = || {
        if adapters.is_empty() {
            "the driver is attached to no adapter".to_owned()
        } else {
            let names: Vec<String> = adapters
                .iter()
                .map(|a| format!("{} ({})", a.id, display_name(a)))
                .collect();
            format!("adapters are: {}", names.join(", "))
        }
    };
    let Some(wanted) = wanted else {
        return match adapters {
            [one] => Ok(one),
            [] => Err(Error::NotFound {
                what: "no adapter: the driver is attached to none".into(),
                hint: "bind qoslwf to an adapter, or start lwfhost with an interface".into(),
            }),
            _ => Err(Error::invalid(
                "--interface",
                format!(
                    "several adapters: name one with -i NAME|FRIENDLY-NAME|GUID|INDEX (hint: {})",
                    listing()
                ),
            )),
        };
    };
    let w = wanted.trim();
    if !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()) {
        if let Some(a) = w
            .parse::<u32>()
            .ok()
            .and_then(|i| adapters.iter().find(|a| a.id == i))
        {
            return Ok(a);
        }
    }
    if let Some(g) = parse_guid(w) {
        if let Some(a) = adapters.iter().find(|a| a.guid == g) {
            return Ok(a);
        }
    }
    let exact: Vec<&AdapterInfo> = adapters
        .iter()
        .filter(|a| a.name == w || a.friendly_name == w || device_guid(&a.name) == Some(w))
        .collect();
    let found = if exact.is_empty() {
        adapters
            .iter()
            .filter(|a| a.name.eq_ignore_ascii_case(w) || a.friendly_name.eq_ignore_ascii_case(w))
            .collect()
    } else {
        exact
    };
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(Error::NotFound {
            what: format!("unknown adapter `{wanted}`"),
            hint: format!("{}; see tcctl interfaces", listing()),
        }),
        many => Err(Error::invalid(
            "--interface",
            format!(
                "`{wanted}` names {} adapters (hint: use the index or GUID: {})",
                many.len(),
                many.iter()
                    .map(|a| format!("{} {}", a.id, guid_text(&a.guid)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// The `{GUID}` part of a `\DEVICE\{GUID}` name.
fn device_guid(name: &str) -> Option<&str> {
    let start = name.find('{')?;
    let g = name.get(start..)?;
    g.ends_with('}').then_some(g)
}

/// How to show an adapter in one word: friendly name, else name.
#[must_use]
pub fn display_name(a: &AdapterInfo) -> &str {
    if a.friendly_name.is_empty() {
        &a.name
    } else {
        &a.friendly_name
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use qos_proto::AdapterState;

    pub fn adapter(id: u32, name: &str, friendly: &str, guid: [u8; 16]) -> AdapterInfo {
        AdapterInfo {
            id,
            name: name.into(),
            friendly_name: friendly.into(),
            guid,
            mac: [0; 6],
            media: 0,
            mtu: 1500,
            link_speed_bps: 1_000_000_000,
            state: AdapterState::Running,
            flows: 0,
            filters: 0,
            policies: 0,
        }
    }

    const G1: &str = "{4D36E972-E325-11CE-BFC1-08002BE10318}";

    fn set() -> Vec<AdapterInfo> {
        vec![
            adapter(
                3,
                r"\DEVICE\{4D36E972-E325-11CE-BFC1-08002BE10318}",
                "Ethernet",
                parse_guid(G1).unwrap(),
            ),
            adapter(7, "eth1", "Wi-Fi", [7; 16]),
            adapter(12, "eth2", "wi-fi", [9; 16]),
        ]
    }

    #[test]
    fn guid_text_round_trips() {
        let g = parse_guid(G1).unwrap();
        // Data1 is little-endian in memory.
        assert_eq!(g[0..4], [0x72, 0xE9, 0x36, 0x4D]);
        assert_eq!(g[8], 0xBF);
        assert_eq!(guid_text(&g), G1);
        assert_eq!(parse_guid(&G1.to_lowercase()), Some(g));
        assert_eq!(parse_guid(G1.trim_matches(['{', '}'])), Some(g));
        assert_eq!(parse_guid("{4D36E972-E325-11CE-BFC1}"), None);
        assert_eq!(parse_guid("xD36E972-E325-11CE-BFC1-08002BE10318"), None);
    }

    #[test]
    fn resolves_by_index_guid_name_and_friendly_name() {
        let a = set();
        assert_eq!(resolve(&a, Some("7")).unwrap().id, 7);
        assert_eq!(resolve(&a, Some(G1)).unwrap().id, 3);
        assert_eq!(resolve(&a, Some(&G1.to_lowercase())).unwrap().id, 3);
        assert_eq!(resolve(&a, Some("Ethernet")).unwrap().id, 3);
        assert_eq!(resolve(&a, Some("ethernet")).unwrap().id, 3);
        assert_eq!(resolve(&a, Some("eth2")).unwrap().id, 12);
        assert_eq!(
            resolve(&a, Some(r"\DEVICE\{4D36E972-E325-11CE-BFC1-08002BE10318}"))
                .unwrap()
                .id,
            3
        );
        // Exact case wins over a case-insensitive tie.
        assert_eq!(resolve(&a, Some("Wi-Fi")).unwrap().id, 7);
        assert_eq!(resolve(&a, Some("wi-fi")).unwrap().id, 12);
    }

    #[test]
    fn unknown_and_ambiguous_names_say_so() {
        let a = set();
        let e = resolve(&a, Some("eth9")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown adapter `eth9` (hint: adapters are: 3 (Ethernet), 7 (Wi-Fi), 12 (wi-fi); see tcctl interfaces)"
        );
        assert_eq!(e.exit_code(), crate::error::exit::NOT_FOUND);
        let e = resolve(&a, Some("WI-FI")).unwrap_err();
        assert!(e.to_string().contains("names 2 adapters"), "{e}");
        assert!(
            resolve(&a, None)
                .unwrap_err()
                .to_string()
                .contains("several adapters")
        );
        assert_eq!(resolve(&a[1..2], None).unwrap().id, 7);
        assert!(matches!(resolve(&[], None), Err(Error::NotFound { .. })));
        // A number that is no index falls through to names.
        let b = vec![adapter(1, "10", "ten", [1; 16])];
        assert_eq!(resolve(&b, Some("10")).unwrap().id, 1);
    }
}
