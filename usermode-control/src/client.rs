//! Typed calls to the driver: encode a `qos_proto::Request`, carry it over
//! a [`Transport`], decode the reply, and turn refusals into [`Error`]s
//! whose message names the object, the field and the rule.

use qos_proto::{
    AdapterConfig, AdapterId, AdapterInfo, AdapterOptions, AdapterStatistics, ApplySummary,
    DEFAULT_REPLY_CAPACITY, DecodeErrorKind, ErrorReply, Filter, FlowDef, FlowEntry,
    MAX_REPLY_BYTES, MappingTables, Page, Policy, ReplyBody, Request, Status, VersionInfo,
    decode_reply, status_of_ntstatus,
};

use crate::error::{Error, Result};
use crate::transport::{self, Device, Transport};

/// NTSTATUS values a driver may complete a request with and no reply.
const STATUS_ACCESS_DENIED: u32 = 0xC000_0022;
const STATUS_INVALID_DEVICE_REQUEST: u32 = 0xC000_0010;
const STATUS_BUFFER_TOO_SMALL: u32 = 0xC000_0023;

/// A connection to the driver, opened on first use (so that input errors
/// are reported before the driver is looked for).
pub struct Client {
    device: Option<String>,
    transport: Option<Box<dyn Transport>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Client")
    }
}

/// Does this refusal mean "no such object"?
fn is_not_found(status: Status) -> bool {
    matches!(
        status,
        Status::UnknownFlow
            | Status::UnknownFilter
            | Status::UnknownPolicy
            | Status::UnknownAdapter
    )
}

/// Turns a refusal into an [`Error`], `op` naming what tcctl was doing.
fn refused(op: &str, e: &ErrorReply) -> Error {
    if e.status == Status::IncompatibleVersion {
        return Error::Version(format!(
            "ABI version mismatch: the driver speaks version {}, this tcctl speaks version {}",
            e.arg0,
            qos_proto::ABI_VERSION
        ));
    }
    let mut message = e.to_string();
    if let Some(hint) = hint_for(e) {
        message.push_str("; hint: ");
        message.push_str(hint);
    }
    Error::Refused {
        op: op.to_owned(),
        message,
        not_found: is_not_found(e.status),
    }
}

/// A hint for the refusals users hit most.
fn hint_for(e: &ErrorReply) -> Option<&'static str> {
    Some(match e.status {
        Status::SupportedObjectsExist => {
            "`tcctl filter list --flow FLOW` shows them, `tcctl filter del ID` removes one"
        }
        Status::InvalidPeakRate => "raise --peak to at least --rate, or leave --peak out",
        Status::InvalidTokenRate => {
            "give --rate (Guaranteed and ControlledLoad flows need one) or a non-zero rate"
        }
        Status::AdmissionExceeded => {
            "lower the rates, or raise the adapter's admission_share option"
        }
        Status::UnknownFlow => "see tcctl flow list",
        Status::UnknownFilter => "see tcctl filter list",
        Status::UnknownPolicy => "see tcctl policy list",
        Status::UnknownAdapter => "see tcctl interfaces (the adapter may have detached)",
        Status::DuplicateName => "pick another name, or change the existing one with `set`",
        Status::LimitExceeded => "delete unused objects first",
        _ => return None,
    })
}

impl Client {
    /// A client of `device` (`--device` / `QOSLWF_DEVICE`, `None` = the
    /// default); nothing is resolved or opened yet.
    #[must_use]
    pub const fn new(device: Option<String>) -> Self {
        Self {
            device,
            transport: None,
        }
    }

    fn transport(&mut self) -> Result<&mut Box<dyn Transport>> {
        if self.transport.is_none() {
            let device = Device::resolve(self.device.as_deref())?;
            self.transport = Some(transport::open(&device)?);
        }
        self.transport
            .as_mut()
            .ok_or_else(|| Error::BadReply("no transport".into()))
    }

    /// Sends one request; `op` names it in errors.
    ///
    /// # Errors
    /// Transport failures, refusals, version mismatch, undecodable replies.
    pub fn call(&mut self, op: &str, req: &Request) -> Result<ReplyBody> {
        let input = req.encode();
        let mut capacity = DEFAULT_REPLY_CAPACITY;
        loop {
            let out_len = u32::try_from(capacity).unwrap_or(u32::MAX);
            let reply = self.transport()?.call(req.code(), &input, out_len)?;
            if reply.output.is_empty() {
                return Err(match reply.ntstatus {
                    STATUS_ACCESS_DENIED => {
                        Error::Transport(crate::transport::TransportError::AccessDenied {
                            device: "the control device".into(),
                        })
                    }
                    STATUS_INVALID_DEVICE_REQUEST => Error::Version(format!(
                        "the driver refused the `{}` request as unknown (IOCTL {:#010x}, STATUS_INVALID_DEVICE_REQUEST): it is older than this tcctl",
                        req.op().name(),
                        req.code()
                    )),
                    STATUS_BUFFER_TOO_SMALL if capacity < MAX_REPLY_BYTES => {
                        capacity = MAX_REPLY_BYTES;
                        continue;
                    }
                    nt => Error::BadReply(format!(
                        "{op}: request failed with NTSTATUS {nt:#010x} and no reply"
                    )),
                });
            }
            let decoded = decode_reply(req.op(), &reply.output).map_err(|e| {
                if let DecodeErrorKind::Version { ours, theirs } = e.kind {
                    Error::Version(format!(
                        "ABI version mismatch: the driver speaks version {theirs}, this tcctl speaks version {ours}"
                    ))
                } else {
                    Error::BadReply(format!("{op}: {e}"))
                }
            })?;
            if reply.ntstatus != 0
                && decoded.is_ok()
                && status_of_ntstatus(reply.ntstatus).is_some_and(|s| s != Status::Ok)
            {
                return Err(Error::BadReply(format!(
                    "{op}: NTSTATUS {:#010x} with a success reply",
                    reply.ntstatus
                )));
            }
            match decoded {
                Ok(body) => return Ok(body),
                Err(e) if e.status == Status::BufferTooSmall => {
                    let needed = usize::try_from(e.arg0).unwrap_or(usize::MAX);
                    if needed <= capacity || capacity >= MAX_REPLY_BYTES {
                        return Err(refused(op, &e));
                    }
                    capacity = needed.min(MAX_REPLY_BYTES);
                }
                Err(e) => return Err(refused(op, &e)),
            }
        }
    }

    fn unexpected(op: &str, body: &ReplyBody) -> Error {
        Error::BadReply(format!("{op}: unexpected reply {body:?}"))
    }

    /// The driver's version and limits.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn version(&mut self) -> Result<VersionInfo> {
        match self.call("version", &Request::GetVersion)? {
            ReplyBody::Version(v) => Ok(v),
            b => Err(Self::unexpected("version", &b)),
        }
    }

    /// Walks every page of an enumeration.
    fn all_pages<T>(
        &mut self,
        op: &str,
        mut req: impl FnMut(u32) -> Request,
        mut take: impl FnMut(ReplyBody) -> Option<Page<T>>,
    ) -> Result<Vec<T>> {
        let mut items = Vec::new();
        let mut start = 0;
        loop {
            let body = self.call(op, &req(start))?;
            let page = take(body).ok_or_else(|| Error::BadReply(format!("{op}: wrong reply")))?;
            items.extend(page.items);
            match page.next {
                Some(n) if n > start => start = n,
                Some(_) => {
                    return Err(Error::BadReply(format!("{op}: pages do not advance")));
                }
                None => return Ok(items),
            }
        }
    }

    /// Every adapter.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn adapters(&mut self) -> Result<Vec<AdapterInfo>> {
        self.all_pages(
            "interfaces",
            |start| Request::EnumAdapters { start },
            |b| match b {
                ReplyBody::Adapters(p) => Some(p),
                _ => None,
            },
        )
    }

    /// Every flow of an adapter (policy flows included).
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn flows(&mut self, adapter: AdapterId, with_stats: bool) -> Result<Vec<FlowEntry>> {
        self.all_pages(
            "flow list",
            |start| Request::EnumFlows {
                adapter,
                start,
                with_stats,
            },
            |b| match b {
                ReplyBody::Flows(p) => Some(p),
                _ => None,
            },
        )
    }

    /// One flow with its statistics.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn flow(&mut self, adapter: AdapterId, id: u32) -> Result<FlowEntry> {
        match self.call("flow show", &Request::QueryFlow { adapter, id })? {
            ReplyBody::Flow(f) => Ok(f),
            b => Err(Self::unexpected("flow show", &b)),
        }
    }

    /// Every filter of an adapter (policy filters included).
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn filters(&mut self, adapter: AdapterId) -> Result<Vec<Filter>> {
        self.all_pages(
            "filter list",
            |start| Request::EnumFilters { adapter, start },
            |b| match b {
                ReplyBody::Filters(p) => Some(p),
                _ => None,
            },
        )
    }

    /// Every policy of an adapter.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn policies(&mut self, adapter: AdapterId) -> Result<Vec<Policy>> {
        self.all_pages(
            "policy list",
            |start| Request::EnumPolicies { adapter, start },
            |b| match b {
                ReplyBody::Policies(p) => Some(p),
                _ => None,
            },
        )
    }

    /// The mapping tables.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn maps(&mut self, adapter: AdapterId) -> Result<MappingTables> {
        match self.call("map show", &Request::GetMaps { adapter })? {
            ReplyBody::Maps(m) => Ok(m),
            b => Err(Self::unexpected("map show", &b)),
        }
    }

    /// The adapter options.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn options(&mut self, adapter: AdapterId) -> Result<AdapterOptions> {
        match self.call("options show", &Request::GetOptions { adapter })? {
            ReplyBody::Options(o) => Ok(o),
            b => Err(Self::unexpected("options show", &b)),
        }
    }

    /// Adapter statistics.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn stats(&mut self, adapter: AdapterId) -> Result<AdapterStatistics> {
        match self.call("stats", &Request::GetStats { adapter })? {
            ReplyBody::Stats(s) => Ok(s),
            b => Err(Self::unexpected("stats", &b)),
        }
    }

    /// Sends a change that answers `Created { id }`.
    fn create(&mut self, op: &str, req: &Request) -> Result<u32> {
        match self.call(op, req)? {
            ReplyBody::Created { id } => Ok(id),
            b => Err(Self::unexpected(op, &b)),
        }
    }

    /// Sends a change that answers `Done`.
    fn done(&mut self, op: &str, req: &Request) -> Result<()> {
        match self.call(op, req)? {
            ReplyBody::Done => Ok(()),
            b => Err(Self::unexpected(op, &b)),
        }
    }

    /// Adds a flow; returns its id.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn add_flow(&mut self, adapter: AdapterId, flow: FlowDef) -> Result<u32> {
        self.create("flow add", &Request::AddFlow { adapter, flow })
    }

    /// Replaces a flow's specification.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn modify_flow(&mut self, adapter: AdapterId, flow: FlowDef) -> Result<()> {
        self.done("flow set", &Request::ModifyFlow { adapter, flow })
    }

    /// Deletes a flow.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn delete_flow(&mut self, adapter: AdapterId, id: u32) -> Result<()> {
        self.done("flow del", &Request::DeleteFlow { adapter, id })
    }

    /// Adds a filter; returns its id.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn add_filter(&mut self, adapter: AdapterId, filter: Filter) -> Result<u32> {
        self.create("filter add", &Request::AddFilter { adapter, filter })
    }

    /// Deletes a filter.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn delete_filter(&mut self, adapter: AdapterId, id: u32) -> Result<()> {
        self.done("filter del", &Request::DeleteFilter { adapter, id })
    }

    /// Adds a policy; returns its id.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn add_policy(&mut self, adapter: AdapterId, policy: Policy) -> Result<u32> {
        self.create("policy add", &Request::AddPolicy { adapter, policy })
    }

    /// Deletes a policy.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn delete_policy(&mut self, adapter: AdapterId, id: u32) -> Result<()> {
        self.done("policy del", &Request::DeletePolicy { adapter, id })
    }

    /// Replaces the mapping tables.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn set_maps(&mut self, adapter: AdapterId, maps: MappingTables) -> Result<()> {
        self.done("map set", &Request::SetMaps { adapter, maps })
    }

    /// Replaces the adapter options.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn set_options(&mut self, adapter: AdapterId, options: AdapterOptions) -> Result<()> {
        self.done("options set", &Request::SetOptions { adapter, options })
    }

    /// Replaces an adapter's whole configuration atomically.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn apply(&mut self, adapter: AdapterId, config: AdapterConfig) -> Result<ApplySummary> {
        match self.call("apply", &Request::Apply { adapter, config })? {
            ReplyBody::Applied(s) => Ok(s),
            b => Err(Self::unexpected("apply", &b)),
        }
    }
}
