//! Requests and replies: the bytes of an IOCTL's input and output buffers.
//!
//! # Layout
//! Every request and every reply starts with the same 12-byte header:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `b"QLWF"` (u32 LE 0x4657_4C51) |
//! | 4 | 2 | ABI version ([`ABI_VERSION`]) |
//! | 6 | 2 | flags, must be 0 |
//! | 8 | 4 | total length in bytes, header included |
//!
//! A request's body follows the header (the IOCTL code says which
//! operation). A reply continues with a `u32` status ([`Status`]); status 0
//! is followed by the operation's reply body, any other status by an error
//! detail: `u16` field, `u8` object kind, `u8` reserved (0), `u32` object
//! id, `u64` arg0, `u64` arg1, rule string. The header, the status and the
//! error detail are frozen across ABI versions, so a client of any version
//! can read "version mismatch: driver speaks N, you sent M".
//!
//! # Enumerations that do not fit
//! Enumerations are paged by id: the request gives `start` (the smallest id
//! wanted); the reply holds as many items as fit the output buffer, in
//! increasing id order, then `next` (the `start` of the following page, or
//! absent at the end). If not even one item fits, the reply is
//! [`Status::BufferTooSmall`] with arg0 = the bytes needed. Listing 10 000
//! filters with a 64 KiB buffer takes about ten calls.

use alloc::vec::Vec;

use crate::codec::{DecodeError, DecodeErrorKind, Reader, Wire, Writer};
use crate::ioctl::Op;
use crate::model::{
    AdapterConfig, AdapterId, AdapterInfo, AdapterOptions, AdapterStatistics, Filter, FlowDef,
    FlowEntry, MappingTables, Page, Policy, VersionInfo,
};
use crate::status::{ErrorReply, FieldId, MAX_RULE_BYTES, ObjectRef, Status};

/// `b"QLWF"` read as a little-endian `u32`.
pub const MAGIC: u32 = u32::from_le_bytes(*b"QLWF");
/// The ABI version this crate speaks.
pub const ABI_VERSION: u16 = 1;
/// Bytes of the header.
pub const HEADER_LEN: usize = 12;
/// Bytes of a reply before its body: header and status.
pub const REPLY_PREFIX_LEN: usize = HEADER_LEN + 4;
/// Smallest output buffer that can hold any error reply.
pub const MIN_ERROR_REPLY_LEN: usize =
    REPLY_PREFIX_LEN + 2 + 1 + 1 + 4 + 8 + 8 + 2 + MAX_RULE_BYTES;
/// Largest request (input buffer) the driver accepts.
pub const MAX_REQUEST_BYTES: usize = 4 << 20;
/// Largest reply (output buffer) the driver fills; larger output buffers
/// are used up to this size.
pub const MAX_REPLY_BYTES: usize = 4 << 20;
/// A good output buffer size for clients: fits every non-page reply and
/// a few hundred page items.
pub const DEFAULT_REPLY_CAPACITY: usize = 64 << 10;

/// What to clear (bits of [`Request::Clear`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClearFlags(pub u32);

impl ClearFlags {
    /// Delete every flow, filter and policy.
    pub const CONFIG: Self = Self(1);
    /// Reset mapping tables and options to their defaults.
    pub const SETTINGS: Self = Self(2);
    /// Reset statistics.
    pub const STATS: Self = Self(4);
    /// Everything.
    pub const ALL: Self = Self(7);
    /// True when every bit of `other` is set.
    #[must_use]
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

/// A request, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Request {
    GetVersion,
    EnumAdapters {
        start: AdapterId,
    },
    QueryFlow {
        adapter: AdapterId,
        id: u32,
    },
    EnumFlows {
        adapter: AdapterId,
        start: u32,
        with_stats: bool,
    },
    EnumFilters {
        adapter: AdapterId,
        start: u32,
    },
    EnumPolicies {
        adapter: AdapterId,
        start: u32,
    },
    GetMaps {
        adapter: AdapterId,
    },
    GetOptions {
        adapter: AdapterId,
    },
    GetStats {
        adapter: AdapterId,
    },
    AddFlow {
        adapter: AdapterId,
        flow: FlowDef,
    },
    ModifyFlow {
        adapter: AdapterId,
        flow: FlowDef,
    },
    DeleteFlow {
        adapter: AdapterId,
        id: u32,
    },
    AddFilter {
        adapter: AdapterId,
        filter: Filter,
    },
    DeleteFilter {
        adapter: AdapterId,
        id: u32,
    },
    AddPolicy {
        adapter: AdapterId,
        policy: Policy,
    },
    DeletePolicy {
        adapter: AdapterId,
        id: u32,
    },
    SetMaps {
        adapter: AdapterId,
        maps: MappingTables,
    },
    SetOptions {
        adapter: AdapterId,
        options: AdapterOptions,
    },
    Clear {
        adapter: AdapterId,
        what: ClearFlags,
    },
    Apply {
        adapter: AdapterId,
        config: AdapterConfig,
    },
}

fn write_header(w: &mut Writer) {
    w.u32(MAGIC);
    w.u16(ABI_VERSION);
    w.u16(0);
    w.u32(0); // patched by finish_message
}

fn finish_message(mut w: Writer) -> Vec<u8> {
    let len = u32::try_from(w.len()).unwrap_or(u32::MAX);
    w.patch_u32(8, len);
    w.into_vec()
}

/// Checks a header; returns its version. On a version mismatch, the error
/// is [`DecodeErrorKind::Version`] (checked after the magic, before the
/// length, so a client of another version always learns both versions).
fn read_header(r: &mut Reader<'_>, total: usize) -> Result<u16, DecodeError> {
    let at = r.offset();
    let magic = r.u32("header.magic")?;
    if magic != MAGIC {
        return Err(DecodeError {
            kind: DecodeErrorKind::BadMagic(magic),
            what: "header.magic",
            at,
        });
    }
    let version = r.u16("header.version")?;
    let flags_at = r.offset();
    let flags = r.u16("header.flags")?;
    let len_at = r.offset();
    let declared = r.u32("header.length")?;
    if usize::try_from(declared).ok() != Some(total) {
        return Err(DecodeError {
            kind: DecodeErrorKind::BadLength {
                declared,
                actual: total,
            },
            what: "header.length",
            at: len_at,
        });
    }
    if flags != 0 {
        return Err(DecodeError {
            kind: DecodeErrorKind::Reserved,
            what: "header.flags",
            at: flags_at,
        });
    }
    Ok(version)
}

fn version_error(theirs: u16) -> DecodeError {
    DecodeError {
        kind: DecodeErrorKind::Version {
            ours: ABI_VERSION,
            theirs,
        },
        what: "header.version",
        at: 4,
    }
}

impl Request {
    /// The operation.
    #[must_use]
    pub const fn op(&self) -> Op {
        match self {
            Self::GetVersion => Op::GetVersion,
            Self::EnumAdapters { .. } => Op::EnumAdapters,
            Self::QueryFlow { .. } => Op::QueryFlow,
            Self::EnumFlows { .. } => Op::EnumFlows,
            Self::EnumFilters { .. } => Op::EnumFilters,
            Self::EnumPolicies { .. } => Op::EnumPolicies,
            Self::GetMaps { .. } => Op::GetMaps,
            Self::GetOptions { .. } => Op::GetOptions,
            Self::GetStats { .. } => Op::GetStats,
            Self::AddFlow { .. } => Op::AddFlow,
            Self::ModifyFlow { .. } => Op::ModifyFlow,
            Self::DeleteFlow { .. } => Op::DeleteFlow,
            Self::AddFilter { .. } => Op::AddFilter,
            Self::DeleteFilter { .. } => Op::DeleteFilter,
            Self::AddPolicy { .. } => Op::AddPolicy,
            Self::DeletePolicy { .. } => Op::DeletePolicy,
            Self::SetMaps { .. } => Op::SetMaps,
            Self::SetOptions { .. } => Op::SetOptions,
            Self::Clear { .. } => Op::Clear,
            Self::Apply { .. } => Op::Apply,
        }
    }

    /// The IOCTL code to send this request with.
    #[must_use]
    pub const fn code(&self) -> u32 {
        self.op().code()
    }

    /// The adapter the request is about (`None` for GetVersion and
    /// EnumAdapters).
    #[must_use]
    pub const fn adapter(&self) -> Option<AdapterId> {
        match self {
            Self::GetVersion | Self::EnumAdapters { .. } => None,
            Self::QueryFlow { adapter, .. }
            | Self::EnumFlows { adapter, .. }
            | Self::EnumFilters { adapter, .. }
            | Self::EnumPolicies { adapter, .. }
            | Self::GetMaps { adapter }
            | Self::GetOptions { adapter }
            | Self::GetStats { adapter }
            | Self::AddFlow { adapter, .. }
            | Self::ModifyFlow { adapter, .. }
            | Self::DeleteFlow { adapter, .. }
            | Self::AddFilter { adapter, .. }
            | Self::DeleteFilter { adapter, .. }
            | Self::AddPolicy { adapter, .. }
            | Self::DeletePolicy { adapter, .. }
            | Self::SetMaps { adapter, .. }
            | Self::SetOptions { adapter, .. }
            | Self::Clear { adapter, .. }
            | Self::Apply { adapter, .. } => Some(*adapter),
        }
    }

    /// The input buffer bytes: header then body.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        write_header(&mut w);
        if let Some(a) = self.adapter() {
            w.u32(a);
        }
        match self {
            Self::GetVersion
            | Self::GetMaps { .. }
            | Self::GetOptions { .. }
            | Self::GetStats { .. } => {}
            Self::EnumAdapters { start } => w.u32(*start),
            Self::QueryFlow { id, .. }
            | Self::DeleteFlow { id, .. }
            | Self::DeleteFilter { id, .. }
            | Self::DeletePolicy { id, .. } => w.u32(*id),
            Self::EnumFlows {
                start, with_stats, ..
            } => {
                w.u32(*start);
                w.bool(*with_stats);
            }
            Self::EnumFilters { start, .. } | Self::EnumPolicies { start, .. } => w.u32(*start),
            Self::AddFlow { flow, .. } | Self::ModifyFlow { flow, .. } => flow.encode(&mut w),
            Self::AddFilter { filter, .. } => filter.encode(&mut w),
            Self::AddPolicy { policy, .. } => policy.encode(&mut w),
            Self::SetMaps { maps, .. } => maps.encode(&mut w),
            Self::SetOptions { options, .. } => options.encode(&mut w),
            Self::Clear { what, .. } => w.u32(what.0),
            Self::Apply { config, .. } => config.encode(&mut w),
        }
        finish_message(w)
    }

    /// Decodes an input buffer sent with IOCTL `code`.
    ///
    /// # Errors
    /// [`DecodeErrorKind::UnknownCode`], [`DecodeErrorKind::TooLarge`]
    /// (over [`MAX_REQUEST_BYTES`]), [`DecodeErrorKind::Version`], or any
    /// encoding error.
    pub fn decode(code: u32, bytes: &[u8]) -> Result<Self, DecodeError> {
        let op = Op::from_code(code).ok_or(DecodeError {
            kind: DecodeErrorKind::UnknownCode(code),
            what: "ioctl code",
            at: 0,
        })?;
        if bytes.len() > MAX_REQUEST_BYTES {
            return Err(DecodeError {
                kind: DecodeErrorKind::TooLarge {
                    len: bytes.len(),
                    max: MAX_REQUEST_BYTES,
                },
                what: "request",
                at: 0,
            });
        }
        let mut r = Reader::new(bytes);
        let version = read_header(&mut r, bytes.len())?;
        if version != ABI_VERSION {
            return Err(version_error(version));
        }
        let req = Self::decode_body(op, &mut r)?;
        r.finish()?;
        Ok(req)
    }

    fn decode_body(op: Op, r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let adapter = match op {
            Op::GetVersion | Op::EnumAdapters => 0,
            _ => r.u32("adapter")?,
        };
        Ok(match op {
            Op::GetVersion => Self::GetVersion,
            Op::EnumAdapters => Self::EnumAdapters {
                start: r.u32("start")?,
            },
            Op::QueryFlow => Self::QueryFlow {
                adapter,
                id: r.u32("flow.id")?,
            },
            Op::EnumFlows => Self::EnumFlows {
                adapter,
                start: r.u32("start")?,
                with_stats: r.bool("with_stats")?,
            },
            Op::EnumFilters => Self::EnumFilters {
                adapter,
                start: r.u32("start")?,
            },
            Op::EnumPolicies => Self::EnumPolicies {
                adapter,
                start: r.u32("start")?,
            },
            Op::GetMaps => Self::GetMaps { adapter },
            Op::GetOptions => Self::GetOptions { adapter },
            Op::GetStats => Self::GetStats { adapter },
            Op::AddFlow => Self::AddFlow {
                adapter,
                flow: FlowDef::decode(r)?,
            },
            Op::ModifyFlow => Self::ModifyFlow {
                adapter,
                flow: FlowDef::decode(r)?,
            },
            Op::DeleteFlow => Self::DeleteFlow {
                adapter,
                id: r.u32("flow.id")?,
            },
            Op::AddFilter => Self::AddFilter {
                adapter,
                filter: Filter::decode(r)?,
            },
            Op::DeleteFilter => Self::DeleteFilter {
                adapter,
                id: r.u32("filter.id")?,
            },
            Op::AddPolicy => Self::AddPolicy {
                adapter,
                policy: Policy::decode(r)?,
            },
            Op::DeletePolicy => Self::DeletePolicy {
                adapter,
                id: r.u32("policy.id")?,
            },
            Op::SetMaps => Self::SetMaps {
                adapter,
                maps: MappingTables::decode(r)?,
            },
            Op::SetOptions => Self::SetOptions {
                adapter,
                options: AdapterOptions::decode(r)?,
            },
            Op::Clear => {
                let at = r.offset();
                let what = r.u32("clear.what")?;
                if what & !ClearFlags::ALL.0 != 0 {
                    return Err(DecodeError {
                        kind: DecodeErrorKind::Reserved,
                        what: "clear.what",
                        at,
                    });
                }
                Self::Clear {
                    adapter,
                    what: ClearFlags(what),
                }
            }
            Op::Apply => Self::Apply {
                adapter,
                config: AdapterConfig::decode(r)?,
            },
        })
    }
}

/// Counts of what Apply installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApplySummary {
    /// Flows, policy flows included.
    pub flows: u32,
    /// Filters, policy filters included.
    pub filters: u32,
    /// Policies.
    pub policies: u32,
}

/// The body of a successful reply.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum ReplyBody {
    /// GetVersion.
    Version(VersionInfo),
    /// EnumAdapters.
    Adapters(Page<AdapterInfo>),
    /// QueryFlow.
    Flow(FlowEntry),
    /// EnumFlows.
    Flows(Page<FlowEntry>),
    /// EnumFilters.
    Filters(Page<Filter>),
    /// EnumPolicies.
    Policies(Page<Policy>),
    /// GetMaps.
    Maps(MappingTables),
    /// GetOptions.
    Options(AdapterOptions),
    /// GetStats.
    Stats(AdapterStatistics),
    /// AddFlow, AddFilter, AddPolicy: the id given to the new object.
    Created { id: u32 },
    /// ModifyFlow, Delete*, SetMaps, SetOptions, Clear.
    Done,
    /// Apply.
    Applied(ApplySummary),
}

impl ReplyBody {
    fn encode(&self, w: &mut Writer) {
        match self {
            Self::Version(v) => v.encode(w),
            Self::Adapters(p) => p.encode(w),
            Self::Flow(f) => f.encode(w),
            Self::Flows(p) => p.encode(w),
            Self::Filters(p) => p.encode(w),
            Self::Policies(p) => p.encode(w),
            Self::Maps(m) => m.encode(w),
            Self::Options(o) => o.encode(w),
            Self::Stats(s) => s.encode(w),
            Self::Created { id } => w.u32(*id),
            Self::Done => {}
            Self::Applied(s) => {
                w.u32(s.flows);
                w.u32(s.filters);
                w.u32(s.policies);
            }
        }
    }

    fn decode(op: Op, r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match op {
            Op::GetVersion => Self::Version(VersionInfo::decode(r)?),
            Op::EnumAdapters => Self::Adapters(Page::decode(r)?),
            Op::QueryFlow => Self::Flow(FlowEntry::decode(r)?),
            Op::EnumFlows => Self::Flows(Page::decode(r)?),
            Op::EnumFilters => Self::Filters(Page::decode(r)?),
            Op::EnumPolicies => Self::Policies(Page::decode(r)?),
            Op::GetMaps => Self::Maps(MappingTables::decode(r)?),
            Op::GetOptions => Self::Options(AdapterOptions::decode(r)?),
            Op::GetStats => Self::Stats(AdapterStatistics::decode(r)?),
            Op::AddFlow | Op::AddFilter | Op::AddPolicy => Self::Created {
                id: r.u32("created.id")?,
            },
            Op::ModifyFlow
            | Op::DeleteFlow
            | Op::DeleteFilter
            | Op::DeletePolicy
            | Op::SetMaps
            | Op::SetOptions
            | Op::Clear => Self::Done,
            Op::Apply => Self::Applied(ApplySummary {
                flows: r.u32("applied.flows")?,
                filters: r.u32("applied.filters")?,
                policies: r.u32("applied.policies")?,
            }),
        })
    }
}

/// A reply: a body, or the reason the operation was refused.
pub type Reply = Result<ReplyBody, ErrorReply>;

fn encode_error(w: &mut Writer, e: &ErrorReply) {
    let (kind, id) = e.object.to_wire();
    w.u16(e.field.0);
    w.u8(kind);
    w.u8(0);
    w.u32(id);
    w.u64(e.arg0);
    w.u64(e.arg1);
    let rule = ErrorReply::new(e.status, e.object, e.field, &e.rule).rule;
    w.str(&rule);
}

fn decode_error(status: Status, r: &mut Reader<'_>) -> Result<ErrorReply, DecodeError> {
    let field = FieldId(r.u16("error.field")?);
    let at = r.offset();
    let kind = r.u8("error.object")?;
    let reserved = r.u8("error.reserved")?;
    let id = r.u32("error.object_id")?;
    let object = ObjectRef::from_wire(kind, id).ok_or(DecodeError {
        kind: DecodeErrorKind::BadTag(u32::from(kind)),
        what: "error.object",
        at,
    })?;
    if reserved != 0 {
        return Err(r.error(DecodeErrorKind::Reserved, "error.reserved"));
    }
    let arg0 = r.u64("error.arg0")?;
    let arg1 = r.u64("error.arg1")?;
    let rule = r.str(MAX_RULE_BYTES, "error.rule")?;
    Ok(ErrorReply {
        status,
        object,
        field,
        rule,
        arg0,
        arg1,
    })
}

/// Encodes a reply: header, status, then body or error detail.
#[must_use]
pub fn encode_reply(reply: &Reply) -> Vec<u8> {
    let mut w = Writer::new();
    write_header(&mut w);
    match reply {
        Ok(body) => {
            w.u32(0);
            body.encode(&mut w);
        }
        Err(e) => {
            // An error reply never carries status 0.
            let code = match e.status.code() {
                0 => Status::HostFailure.code(),
                c => c,
            };
            w.u32(code);
            encode_error(&mut w, e);
        }
    }
    finish_message(w)
}

/// Decodes the output buffer of operation `op`.
///
/// A reply of another ABI version is decoded when it is the (frozen)
/// version-mismatch error; otherwise it is [`DecodeErrorKind::Version`].
///
/// # Errors
/// Any [`DecodeError`].
pub fn decode_reply(op: Op, bytes: &[u8]) -> Result<Reply, DecodeError> {
    if bytes.len() > MAX_REPLY_BYTES {
        return Err(DecodeError {
            kind: DecodeErrorKind::TooLarge {
                len: bytes.len(),
                max: MAX_REPLY_BYTES,
            },
            what: "reply",
            at: 0,
        });
    }
    let mut r = Reader::new(bytes);
    let version = read_header(&mut r, bytes.len())?;
    let status = Status::from_code(r.u32("status")?);
    if version != ABI_VERSION && status != Status::IncompatibleVersion {
        return Err(version_error(version));
    }
    let reply = if status == Status::Ok {
        Ok(ReplyBody::decode(op, &mut r)?)
    } else {
        Err(decode_error(status, &mut r)?)
    };
    r.finish()?;
    Ok(reply)
}

/// Builds a page reply that fits an output buffer of `capacity` bytes:
/// push items in increasing id order until one does not fit.
#[derive(Debug)]
pub struct PageEncoder {
    w: Writer,
    count_at: usize,
    count: u32,
    capacity: usize,
    next: Option<u32>,
    needed: usize,
}

/// Bytes of the `next` option at the end of a page.
const PAGE_TRAILER: usize = 5;

impl PageEncoder {
    /// Starts a page of a list of `total` items.
    #[must_use]
    pub fn new(total: u32, capacity: usize) -> Self {
        let mut w = Writer::new();
        write_header(&mut w);
        w.u32(0);
        w.u32(total);
        let count_at = w.len();
        w.u32(0);
        Self {
            w,
            count_at,
            count: 0,
            capacity: capacity.min(MAX_REPLY_BYTES),
            next: None,
            needed: 0,
        }
    }

    /// Adds an item with id `id`. Returns false when it did not fit: the
    /// page is then complete and `id` is where the next page starts.
    pub fn push<T: Wire>(&mut self, id: u32, item: &T) -> bool {
        if self.next.is_some() {
            return false;
        }
        let before = self.w.len();
        item.encode(&mut self.w);
        let size = self.w.len().saturating_add(PAGE_TRAILER);
        if size > self.capacity || self.count == u32::MAX {
            self.w.truncate(before);
            self.next = Some(id);
            self.needed = size;
            return false;
        }
        self.count = self.count.saturating_add(1);
        true
    }

    /// The reply bytes, or `Err(needed)` when not even the first item fit
    /// (reply with [`Status::BufferTooSmall`], arg0 = needed).
    ///
    /// # Errors
    /// The bytes needed for a one-item page.
    pub fn finish(mut self) -> Result<Vec<u8>, usize> {
        if self.count == 0 && self.next.is_some() {
            return Err(self.needed);
        }
        if self.w.len().saturating_add(PAGE_TRAILER) > self.capacity {
            return Err(self.w.len().saturating_add(PAGE_TRAILER));
        }
        let count = self.count;
        let at = self.count_at;
        self.w.patch_u32(at, count);
        let next = self.next;
        self.w.opt(next.as_ref(), |w, v| w.u32(*v));
        Ok(finish_message(self.w))
    }
}
