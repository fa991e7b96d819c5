//! The control plane: every adapter's configuration, and `dispatch`, which
//! turns one IOCTL into a change and a reply.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;

use qos_engine::adapter::{
    self as adapter, AdapterConfig, MAX_FILTERS, MAX_FLOWS, MAX_POLICIES, MAX_POLICY_ID,
    MAX_USER_ID, Snapshot,
};
use qos_engine::error::{ConfigError, ErrorKind, Field, Object};
use qos_engine::gpc::Filter;
use qos_proto::{
    self as p, AdapterId, ApplySummary, ClearFlags, DecodeError, DecodeErrorKind, ErrorReply,
    FieldId, ObjectRef, Op, PageEncoder, ReplyBody, Request, Status,
};

use crate::convert;
use crate::host::{DatapathHost, HostError};

/// The driver's version string, reported by GetVersion.
pub const DRIVER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What `dispatch` did: the NTSTATUS to complete the IRP with and the
/// bytes of `output` to return (IoStatus.Information).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatchResult {
    /// NTSTATUS (see `qos_proto::status`).
    pub ntstatus: u32,
    /// Bytes written to the output buffer.
    pub written: usize,
}

/// One adapter's configuration as the control plane keeps it.
#[derive(Debug)]
struct AdapterEntry {
    /// User flows, filters and policies, each sorted by id.
    config: AdapterConfig,
    /// The snapshot last published.
    snapshot: Arc<Snapshot>,
    next_flow: u32,
    next_filter: u32,
    next_policy: u32,
    flows_rejected: u64,
    flow_mods_rejected: u64,
}

impl AdapterEntry {
    fn new(link_speed_bps: u64) -> Self {
        Self {
            config: AdapterConfig::default(),
            snapshot: Arc::new(Snapshot::empty(link_speed_bps)),
            next_flow: 1,
            next_filter: 1,
            next_policy: 1,
            flows_rejected: 0,
            flow_mods_rejected: 0,
        }
    }
}

type Res<T> = Result<T, ErrorReply>;

/// The control plane: per-adapter configuration, id counters, and the
/// handler of every IOCTL.
///
/// # Concurrency
/// `dispatch` takes `&mut self`: the caller serialises. The driver keeps
/// one `ControlPlane` behind a PASSIVE_LEVEL lock (a mutex; dispatch
/// allocates and may take a while for large applies) and calls `dispatch`
/// with it held, so changes are serialised and every change is validated
/// completely (a new [`Snapshot`] compiled) before anything changes.
/// The datapath never takes that lock: [`DatapathHost::publish`] hands it
/// a finished `Arc<Snapshot>` to swap in atomically, so a concurrent reader
/// sees the old configuration or the new one, never half a change. The
/// control plane's own state is updated only after the host accepted the
/// snapshot (all or nothing).
#[derive(Debug)]
pub struct ControlPlane<H> {
    host: H,
    adapters: BTreeMap<AdapterId, AdapterEntry>,
}

fn unknown_adapter(id: AdapterId) -> ErrorReply {
    ErrorReply::new(
        Status::UnknownAdapter,
        ObjectRef::Adapter(id),
        FieldId::ADAPTER,
        "is not attached",
    )
}

fn host_error(e: HostError, id: AdapterId) -> ErrorReply {
    match e {
        HostError::Gone => unknown_adapter(id),
        HostError::Failed(rule) => ErrorReply::new(
            Status::HostFailure,
            ObjectRef::Adapter(id),
            FieldId::ADAPTER,
            rule,
        ),
    }
}

fn decode_error(e: &DecodeError) -> ErrorReply {
    match e.kind {
        DecodeErrorKind::Version { ours, theirs } => ErrorReply::new(
            Status::IncompatibleVersion,
            ObjectRef::Request,
            FieldId::NONE,
            "",
        )
        .with_args(u64::from(ours), u64::from(theirs)),
        DecodeErrorKind::TooLarge { max, .. } => ErrorReply::new(
            Status::RequestTooLarge,
            ObjectRef::Request,
            FieldId::NONE,
            "",
        )
        .with_args(max as u64, 0),
        _ => ErrorReply::new(
            Status::MalformedRequest,
            ObjectRef::Request,
            FieldId::NONE,
            &format!("{e}"),
        )
        .with_args(e.at as u64, 0),
    }
}

fn not_found(kind: ErrorKind, object: Object, field: Field) -> ConfigError {
    ConfigError::new(kind, object, field, "does not exist on this adapter")
}

/// Inserts `item` into `v` (sorted by `key`) at its place.
fn insert_sorted<T>(v: &mut Vec<T>, item: T, key: impl Fn(&T) -> u32) {
    let k = key(&item);
    let at = v.partition_point(|x| key(x) < k);
    v.insert(at, item);
}

/// Picks a free id: `*next` if free, else the next free one above it, else
/// the first gap from 1.
fn assign_id(next: &mut u32, max: u32, taken: impl Fn(u32) -> bool) -> Option<u32> {
    let mut id = (*next).max(1);
    while id <= max && taken(id) {
        id = id.saturating_add(1);
    }
    if id > max {
        id = 1;
        while id <= max && taken(id) {
            id = id.saturating_add(1);
        }
        if id > max {
            return None;
        }
    }
    *next = id.saturating_add(1);
    Some(id)
}

impl<H: DatapathHost> ControlPlane<H> {
    /// A control plane over `host`, with no configuration.
    pub const fn new(host: H) -> Self {
        Self {
            host,
            adapters: BTreeMap::new(),
        }
    }

    /// The host.
    pub const fn host(&self) -> &H {
        &self.host
    }

    /// The snapshot to install on an adapter that attaches (or restarts):
    /// its retained configuration compiled for `link_speed_bps`, or an
    /// empty one. If the retained configuration no longer passes admission
    /// at the new link speed, it is installed without admission (link
    /// speed treated as unknown) rather than dropped.
    pub fn snapshot_for(&mut self, id: AdapterId, link_speed_bps: u64) -> Arc<Snapshot> {
        let Some(e) = self.adapters.get_mut(&id) else {
            return Arc::new(Snapshot::empty(link_speed_bps));
        };
        if e.snapshot.link_speed_bps() != link_speed_bps {
            let s = Snapshot::compile(&e.config, link_speed_bps)
                .or_else(|_| Snapshot::compile(&e.config, 0))
                .unwrap_or_else(|_| Snapshot::empty(link_speed_bps));
            e.snapshot = Arc::new(s);
        }
        Arc::clone(&e.snapshot)
    }

    /// Forgets an adapter's configuration (e.g. the adapter was removed
    /// for good).
    pub fn forget(&mut self, id: AdapterId) {
        self.adapters.remove(&id);
    }

    /// The snapshot last published to `id`, if it was configured.
    pub fn current_snapshot(&self, id: AdapterId) -> Option<Arc<Snapshot>> {
        self.adapters.get(&id).map(|e| Arc::clone(&e.snapshot))
    }

    /// Handles one IOCTL: decodes `input`, applies the change or answers
    /// the query, writes the reply into `output`. Never panics; any input
    /// gets a reply (or an error NTSTATUS when `output` cannot hold one).
    pub fn dispatch(&mut self, code: u32, input: &[u8], output: &mut [u8]) -> DispatchResult {
        if Op::from_code(code).is_none() {
            return DispatchResult {
                ntstatus: p::status::STATUS_INVALID_DEVICE_REQUEST,
                written: 0,
            };
        }
        let capacity = output.len().min(p::MAX_REPLY_BYTES);
        let reply = match Request::decode(code, input) {
            Err(e) => Err(decode_error(&e)),
            Ok(req) => self.handle(req, capacity),
        };
        let (status, bytes) = match reply {
            Ok(bytes) => (Status::Ok, bytes),
            Err(e) => (e.status, p::encode_reply(&Err(e))),
        };
        write_reply(status, &bytes, output)
    }

    /// Handles a decoded request; `Ok` holds the full reply bytes.
    fn handle(&mut self, req: Request, capacity: usize) -> Res<Vec<u8>> {
        let ok = |body: ReplyBody| Ok(p::encode_reply(&Ok(body)));
        match req {
            Request::GetVersion => ok(ReplyBody::Version(p::VersionInfo {
                abi_version: p::ABI_VERSION,
                driver_version: DRIVER_VERSION.into(),
                limits: p::Limits {
                    max_flows: MAX_FLOWS as u32,
                    max_filters: MAX_FILTERS as u32,
                    max_policies: MAX_POLICIES as u32,
                    max_request_bytes: p::MAX_REQUEST_BYTES as u32,
                },
            })),
            Request::EnumAdapters { start } => self.enum_adapters(start, capacity),
            Request::QueryFlow { adapter, id } => {
                let e = self.flow_entry(adapter, id, true)?;
                ok(ReplyBody::Flow(e))
            }
            Request::EnumFlows {
                adapter,
                start,
                with_stats,
            } => self.enum_flows(adapter, start, with_stats, capacity),
            Request::EnumFilters { adapter, start } => self.enum_filters(adapter, start, capacity),
            Request::EnumPolicies { adapter, start } => {
                self.enum_policies(adapter, start, capacity)
            }
            Request::GetMaps { adapter } => {
                let m = self.with_entry(adapter, |e| convert::wire_maps(&e.config.maps))?;
                ok(ReplyBody::Maps(m))
            }
            Request::GetOptions { adapter } => {
                let o = self.with_entry(adapter, |e| convert::wire_options(&e.config.options))?;
                ok(ReplyBody::Options(o))
            }
            Request::GetStats { adapter } => ok(ReplyBody::Stats(self.stats(adapter)?)),
            Request::AddFlow { adapter, flow } => {
                let id = self.add_flow(adapter, &flow)?;
                ok(ReplyBody::Created { id })
            }
            Request::ModifyFlow { adapter, flow } => {
                self.modify_flow(adapter, &flow)?;
                ok(ReplyBody::Done)
            }
            Request::DeleteFlow { adapter, id } => {
                self.delete_flow(adapter, id)?;
                ok(ReplyBody::Done)
            }
            Request::AddFilter { adapter, filter } => {
                let id = self.add_filter(adapter, &filter)?;
                ok(ReplyBody::Created { id })
            }
            Request::DeleteFilter { adapter, id } => {
                self.delete_filter(adapter, id)?;
                ok(ReplyBody::Done)
            }
            Request::AddPolicy { adapter, policy } => {
                let id = self.add_policy(adapter, &policy)?;
                ok(ReplyBody::Created { id })
            }
            Request::DeletePolicy { adapter, id } => {
                self.delete_policy(adapter, id)?;
                ok(ReplyBody::Done)
            }
            Request::SetMaps { adapter, maps } => {
                let m = convert::maps(&maps);
                self.replace(adapter, |c| {
                    c.maps = m;
                    Ok(())
                })?;
                ok(ReplyBody::Done)
            }
            Request::SetOptions { adapter, options } => {
                let o =
                    convert::options(&options).map_err(|e| convert::error_reply(&e, adapter))?;
                self.replace(adapter, |c| {
                    c.options = o;
                    Ok(())
                })?;
                ok(ReplyBody::Done)
            }
            Request::Clear { adapter, what } => {
                self.clear(adapter, what)?;
                ok(ReplyBody::Done)
            }
            Request::Apply { adapter, config } => {
                let s = self.apply(adapter, &config)?;
                ok(ReplyBody::Applied(s))
            }
        }
    }

    // ----- adapters -------------------------------------------------------

    /// The link speed of an attached adapter.
    fn link_speed(&self, id: AdapterId) -> Res<u64> {
        self.host
            .adapter(id)
            .map(|a| a.link_speed_bps)
            .ok_or_else(|| unknown_adapter(id))
    }

    /// The entry of an attached adapter, created on first use.
    fn entry(&mut self, id: AdapterId) -> Res<&mut AdapterEntry> {
        let link = self.link_speed(id)?;
        Ok(self
            .adapters
            .entry(id)
            .or_insert_with(|| AdapterEntry::new(link)))
    }

    /// Reads an attached adapter's entry (a default one if never
    /// configured).
    fn with_entry<T>(&self, id: AdapterId, f: impl FnOnce(&AdapterEntry) -> T) -> Res<T> {
        let link = self.link_speed(id)?;
        Ok(match self.adapters.get(&id) {
            Some(e) => f(e),
            None => f(&AdapterEntry::new(link)),
        })
    }

    fn enum_adapters(&self, start: AdapterId, capacity: usize) -> Res<Vec<u8>> {
        let mut list = self.host.adapters();
        list.sort_unstable_by_key(|a| a.id);
        let total = u32::try_from(list.len()).unwrap_or(u32::MAX);
        let mut page = PageEncoder::new(total, capacity);
        for mut a in list.into_iter().filter(|a| a.id >= start) {
            if let Some(e) = self.adapters.get(&a.id) {
                a.flows = count(e.snapshot.flows().len());
                a.filters = count(e.snapshot.filter_count());
                a.policies = count(e.snapshot.policy_count());
            } else {
                (a.flows, a.filters, a.policies) = (0, 0, 0);
            }
            if !page.push(a.id, &a) {
                break;
            }
        }
        finish_page(page)
    }

    fn stats(&self, adapter: AdapterId) -> Res<p::AdapterStatistics> {
        let (rejected, mods) =
            self.with_entry(adapter, |e| (e.flows_rejected, e.flow_mods_rejected))?;
        let mut s = self
            .host
            .adapter_stats(adapter)
            .ok_or_else(|| unknown_adapter(adapter))?;
        s.adapter.flows_rejected = rejected;
        s.adapter.flow_mods_rejected = mods;
        Ok(s)
    }

    // ----- flows ----------------------------------------------------------

    fn flow_entry(&self, adapter: AdapterId, id: u32, with_stats: bool) -> Res<p::FlowEntry> {
        let snapshot = self.with_entry(adapter, |e| Arc::clone(&e.snapshot))?;
        let index = snapshot.index_of(id).ok_or_else(|| {
            convert::error_reply(
                &not_found(ErrorKind::UnknownFlow, Object::Flow(id), Field::FlowId),
                adapter,
            )
        })?;
        let filters = filter_counts(&snapshot);
        Ok(self.make_flow_entry(adapter, &snapshot, index, &filters, with_stats))
    }

    fn make_flow_entry(
        &self,
        adapter: AdapterId,
        snapshot: &Snapshot,
        index: usize,
        filters: &[u32],
        with_stats: bool,
    ) -> p::FlowEntry {
        let (id, spec) = snapshot
            .flows()
            .get(index)
            .map_or((0, None), |(id, s)| (*id, Some(s)));
        p::FlowEntry {
            id,
            policy: convert::policy_of_flow(id),
            spec: spec.map_or_else(
                || p::FlowSpec::best_effort(alloc::string::String::new()),
                convert::wire_flow_spec,
            ),
            filters: filters.get(index).copied().unwrap_or(0),
            stats: if with_stats {
                Some(self.host.flow_stats(adapter, index).unwrap_or_default())
            } else {
                None
            },
        }
    }

    fn enum_flows(
        &self,
        adapter: AdapterId,
        start: u32,
        with_stats: bool,
        capacity: usize,
    ) -> Res<Vec<u8>> {
        let snapshot = self.with_entry(adapter, |e| Arc::clone(&e.snapshot))?;
        let filters = filter_counts(&snapshot);
        // Dense order is id order (user flows by id, then policy flows).
        let flows = snapshot.flows();
        let first = flows.partition_point(|(id, _)| *id < start);
        let mut page = PageEncoder::new(count(flows.len()), capacity);
        for (index, (id, _)) in flows.iter().enumerate().skip(first) {
            let e = self.make_flow_entry(adapter, &snapshot, index, &filters, with_stats);
            if !page.push(*id, &e) {
                break;
            }
        }
        finish_page(page)
    }

    fn add_flow(&mut self, adapter: AdapterId, def: &p::FlowDef) -> Res<u32> {
        let r = self.add_flow_inner(adapter, def);
        if r.is_err() {
            if let Some(e) = self.adapters.get_mut(&adapter) {
                e.flows_rejected = e.flows_rejected.saturating_add(1);
            }
        }
        r
    }

    fn add_flow_inner(&mut self, adapter: AdapterId, def: &p::FlowDef) -> Res<u32> {
        let cerr = |e: ConfigError| convert::error_reply(&e, adapter);
        let entry = self.entry(adapter)?;
        let mut next = entry.next_flow;
        let id = if def.id == 0 {
            let flows = &entry.config.flows;
            assign_id(&mut next, MAX_USER_ID, |id| {
                flows.binary_search_by_key(&id, |(i, _)| *i).is_ok()
            })
            .ok_or_else(|| {
                cerr(ConfigError::new(
                    ErrorKind::LimitExceeded,
                    Object::Adapter,
                    Field::FlowId,
                    "no free flow id",
                ))
            })?
        } else {
            def.id
        };
        let spec = convert::flow_spec(id, &def.spec).map_err(cerr)?;
        self.replace(adapter, |c| {
            insert_sorted(&mut c.flows, (id, spec), |(id, _)| *id);
            Ok(())
        })?;
        if let Some(e) = self.adapters.get_mut(&adapter) {
            e.next_flow = e.next_flow.max(next);
        }
        Ok(id)
    }

    fn modify_flow(&mut self, adapter: AdapterId, def: &p::FlowDef) -> Res<()> {
        let r = self.modify_flow_inner(adapter, def);
        if r.is_err() {
            if let Some(e) = self.adapters.get_mut(&adapter) {
                e.flow_mods_rejected = e.flow_mods_rejected.saturating_add(1);
            }
        }
        r
    }

    fn modify_flow_inner(&mut self, adapter: AdapterId, def: &p::FlowDef) -> Res<()> {
        let cerr = |e: ConfigError| convert::error_reply(&e, adapter);
        let id = def.id;
        check_not_policy_flow(id).map_err(cerr)?;
        let spec = convert::flow_spec(id, &def.spec).map_err(cerr)?;
        self.replace(adapter, |c| {
            let slot = c.flows.iter_mut().find(|(i, _)| *i == id).ok_or_else(|| {
                not_found(ErrorKind::UnknownFlow, Object::Flow(id), Field::FlowId)
            })?;
            slot.1 = spec;
            Ok(())
        })
    }

    fn delete_flow(&mut self, adapter: AdapterId, id: u32) -> Res<()> {
        check_not_policy_flow(id).map_err(|e| convert::error_reply(&e, adapter))?;
        self.replace(adapter, |c| {
            let at = c.flows.iter().position(|(i, _)| *i == id).ok_or_else(|| {
                not_found(ErrorKind::UnknownFlow, Object::Flow(id), Field::FlowId)
            })?;
            if c.filters.iter().any(|f| f.flow == id) {
                return Err(ConfigError::new(
                    ErrorKind::SupportedObjectsExist,
                    Object::Flow(id),
                    Field::FlowId,
                    "still has filters; delete them first",
                ));
            }
            c.flows.remove(at);
            Ok(())
        })
    }

    // ----- filters --------------------------------------------------------

    fn enum_filters(&self, adapter: AdapterId, start: u32, capacity: usize) -> Res<Vec<u8>> {
        self.with_entry(adapter, |e| {
            let user = &e.config.filters;
            let policies = &e.config.policies;
            let policy_filters = policies
                .iter()
                .flat_map(|pol| pol.families().iter().map(move |&fam| pol.filter(fam)));
            let total = user
                .len()
                .saturating_add(policies.iter().map(|x| x.families().len()).sum());
            let first = user.partition_point(|f| f.id < start);
            let mut page = PageEncoder::new(count(total), capacity);
            let all = user
                .get(first..)
                .unwrap_or_default()
                .iter()
                .copied()
                .chain(policy_filters.filter(|f| f.id >= start));
            for f in all {
                if !page.push(f.id, &convert::wire_filter(&f)) {
                    break;
                }
            }
            finish_page(page)
        })?
    }

    fn add_filter(&mut self, adapter: AdapterId, wire: &p::Filter) -> Res<u32> {
        let cerr = |e: ConfigError| convert::error_reply(&e, adapter);
        let mut f: Filter = convert::filter(wire).map_err(cerr)?;
        let entry = self.entry(adapter)?;
        let mut next = entry.next_filter;
        if f.id == 0 {
            let filters = &entry.config.filters;
            f.id = assign_id(&mut next, MAX_USER_ID, |id| {
                filters.binary_search_by_key(&id, |f| f.id).is_ok()
            })
            .ok_or_else(|| {
                cerr(ConfigError::new(
                    ErrorKind::LimitExceeded,
                    Object::Adapter,
                    Field::FilterId,
                    "no free filter id",
                ))
            })?;
        }
        // Incremental: no clone of the configuration, no classifier rebuild.
        let snapshot = entry.snapshot.with_filter(&f).map_err(cerr)?;
        self.publish(adapter, snapshot)?;
        if let Some(e) = self.adapters.get_mut(&adapter) {
            insert_sorted(&mut e.config.filters, f, |f| f.id);
            e.next_filter = e.next_filter.max(next);
        }
        Ok(f.id)
    }

    fn delete_filter(&mut self, adapter: AdapterId, id: u32) -> Res<()> {
        let cerr = |e: ConfigError| convert::error_reply(&e, adapter);
        let entry = self.entry(adapter)?;
        if convert::policy_of_filter(id).is_some() {
            return Err(cerr(ConfigError::new(
                ErrorKind::InvalidValue,
                Object::Filter(id),
                Field::FilterId,
                "belongs to a policy; delete the policy instead",
            )));
        }
        let at = entry
            .config
            .filters
            .binary_search_by_key(&id, |f| f.id)
            .map_err(|_| {
                cerr(not_found(
                    ErrorKind::UnknownFilter,
                    Object::Filter(id),
                    Field::FilterId,
                ))
            })?;
        let snapshot = entry.snapshot.without_filter(id);
        self.publish(adapter, snapshot)?;
        if let Some(e) = self.adapters.get_mut(&adapter) {
            if at < e.config.filters.len() {
                e.config.filters.remove(at);
            }
        }
        Ok(())
    }

    // ----- policies -------------------------------------------------------

    fn enum_policies(&self, adapter: AdapterId, start: u32, capacity: usize) -> Res<Vec<u8>> {
        self.with_entry(adapter, |e| {
            let list = &e.config.policies;
            let first = list.partition_point(|x| x.id < start);
            let mut page = PageEncoder::new(count(list.len()), capacity);
            for x in list.get(first..).unwrap_or_default() {
                if !page.push(x.id, &convert::wire_policy(x)) {
                    break;
                }
            }
            finish_page(page)
        })?
    }

    fn add_policy(&mut self, adapter: AdapterId, wire: &p::Policy) -> Res<u32> {
        let cerr = |e: ConfigError| convert::error_reply(&e, adapter);
        let mut x = convert::policy(wire).map_err(cerr)?;
        let entry = self.entry(adapter)?;
        let mut next = entry.next_policy;
        if x.id == 0 {
            let policies = &entry.config.policies;
            x.id = assign_id(&mut next, MAX_POLICY_ID, |id| {
                policies.binary_search_by_key(&id, |x| x.id).is_ok()
            })
            .ok_or_else(|| {
                cerr(ConfigError::new(
                    ErrorKind::LimitExceeded,
                    Object::Adapter,
                    Field::PolicyId,
                    "no free policy id",
                ))
            })?;
        } else if entry.config.policies.iter().any(|y| y.id == x.id) {
            return Err(cerr(ConfigError::new(
                ErrorKind::DuplicateId,
                Object::Policy(x.id),
                Field::PolicyId,
                "policy id already used on this adapter",
            )));
        }
        let id = x.id;
        self.replace(adapter, |c| {
            insert_sorted(&mut c.policies, x, |x| x.id);
            Ok(())
        })?;
        if let Some(e) = self.adapters.get_mut(&adapter) {
            e.next_policy = e.next_policy.max(next);
        }
        Ok(id)
    }

    fn delete_policy(&mut self, adapter: AdapterId, id: u32) -> Res<()> {
        self.replace(adapter, |c| {
            let at = c.policies.iter().position(|x| x.id == id).ok_or_else(|| {
                not_found(
                    ErrorKind::UnknownPolicy,
                    Object::Policy(id),
                    Field::PolicyId,
                )
            })?;
            c.policies.remove(at);
            Ok(())
        })
    }

    // ----- whole-configuration changes ------------------------------------

    /// Clones the configuration, lets `edit` change the clone, compiles it
    /// (complete validation), publishes it, and only then keeps it.
    fn replace(
        &mut self,
        adapter: AdapterId,
        edit: impl FnOnce(&mut AdapterConfig) -> Result<(), ConfigError>,
    ) -> Res<()> {
        let link = self.link_speed(adapter)?;
        let cerr = |e: ConfigError| convert::error_reply(&e, adapter);
        let entry = self.entry(adapter)?;
        let mut config = entry.config.clone();
        edit(&mut config).map_err(cerr)?;
        let snapshot = Snapshot::compile(&config, link).map_err(cerr)?;
        self.publish(adapter, snapshot)?;
        if let Some(e) = self.adapters.get_mut(&adapter) {
            e.config = config;
        }
        Ok(())
    }

    /// Hands a snapshot to the host; on success records it as current.
    fn publish(&mut self, adapter: AdapterId, snapshot: Snapshot) -> Res<()> {
        let snapshot = Arc::new(snapshot);
        self.host
            .publish(adapter, Arc::clone(&snapshot))
            .map_err(|e| host_error(e, adapter))?;
        if let Some(e) = self.adapters.get_mut(&adapter) {
            e.snapshot = snapshot;
        }
        Ok(())
    }

    fn clear(&mut self, adapter: AdapterId, what: ClearFlags) -> Res<()> {
        if what.contains(ClearFlags::CONFIG) || what.contains(ClearFlags::SETTINGS) {
            self.replace(adapter, |c| {
                if what.contains(ClearFlags::CONFIG) {
                    c.flows.clear();
                    c.filters.clear();
                    c.policies.clear();
                }
                if what.contains(ClearFlags::SETTINGS) {
                    c.maps = qos_engine::mark::MarkMaps::default();
                    c.options = adapter::AdapterOptions::default();
                }
                Ok(())
            })?;
        }
        if what.contains(ClearFlags::STATS) {
            let e = self.entry(adapter)?;
            e.flows_rejected = 0;
            e.flow_mods_rejected = 0;
            self.host.clear_stats(adapter);
        }
        Ok(())
    }

    fn apply(&mut self, adapter: AdapterId, wire: &p::AdapterConfig) -> Res<ApplySummary> {
        let cerr = |e: ConfigError| convert::error_reply(&e, adapter);
        let link = self.link_speed(adapter)?;
        let mut config = AdapterConfig {
            options: convert::options(&wire.options).map_err(cerr)?,
            maps: convert::maps(&wire.maps),
            ..AdapterConfig::default()
        };
        for d in &wire.flows {
            if d.id == 0 {
                return Err(cerr(ConfigError::new(
                    ErrorKind::InvalidValue,
                    Object::Flow(0),
                    Field::FlowId,
                    "must be given in apply (filters refer to it)",
                )));
            }
            config
                .flows
                .push((d.id, convert::flow_spec(d.id, &d.spec).map_err(cerr)?));
        }
        for f in &wire.filters {
            config.filters.push(convert::filter(f).map_err(cerr)?);
        }
        for x in &wire.policies {
            config.policies.push(convert::policy(x).map_err(cerr)?);
        }
        // Ids left 0 get fresh ones above every given id.
        let mut next_filter = config.filters.iter().map(|f| f.id).max().unwrap_or(0);
        for f in config.filters.iter_mut().filter(|f| f.id == 0) {
            next_filter = next_filter.saturating_add(1);
            f.id = next_filter;
        }
        let mut next_policy = config.policies.iter().map(|x| x.id).max().unwrap_or(0);
        for x in config.policies.iter_mut().filter(|x| x.id == 0) {
            next_policy = next_policy.saturating_add(1);
            x.id = next_policy;
        }
        config.flows.sort_unstable_by_key(|(id, _)| *id);
        config.filters.sort_unstable_by_key(|f| f.id);
        config.policies.sort_unstable_by_key(|x| x.id);
        let snapshot = Snapshot::compile(&config, link).map_err(cerr)?;
        let summary = ApplySummary {
            flows: count(snapshot.flows().len()),
            filters: count(snapshot.filter_count()),
            policies: count(snapshot.policy_count()),
        };
        self.entry(adapter)?;
        self.publish(adapter, snapshot)?;
        if let Some(e) = self.adapters.get_mut(&adapter) {
            let max_flow = config.flows.last().map_or(0, |(id, _)| *id);
            e.next_flow = max_flow.saturating_add(1);
            e.next_filter = next_filter.saturating_add(1);
            e.next_policy = next_policy.saturating_add(1);
            e.config = config;
        }
        Ok(summary)
    }
}

/// Flow ids a policy made cannot be changed directly.
fn check_not_policy_flow(id: u32) -> Result<(), ConfigError> {
    if convert::policy_of_flow(id).is_some() {
        return Err(ConfigError::new(
            ErrorKind::InvalidValue,
            Object::Flow(id),
            Field::FlowId,
            "belongs to a policy; change or delete the policy instead",
        ));
    }
    Ok(())
}

/// Filters per dense flow index.
fn filter_counts(s: &Snapshot) -> Vec<u32> {
    let mut counts = alloc::vec![0u32; s.flows().len()];
    for f in s.classifier().filters() {
        if let Some(c) = usize::try_from(f.flow).ok().and_then(|i| counts.get_mut(i)) {
            *c = c.saturating_add(1);
        }
    }
    counts
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn finish_page(page: PageEncoder) -> Res<Vec<u8>> {
    page.finish().map_err(|needed| {
        ErrorReply::new(
            Status::BufferTooSmall,
            ObjectRef::Request,
            FieldId::NONE,
            "",
        )
        .with_args(needed as u64, 0)
    })
}

/// Copies a reply into `output`. A reply too large for `output` becomes a
/// BufferTooSmall error reply (bytes needed in arg0); if even that does
/// not fit, the NTSTATUS is STATUS_BUFFER_TOO_SMALL with nothing written.
fn write_reply(status: Status, bytes: &[u8], output: &mut [u8]) -> DispatchResult {
    let fits = |b: &[u8], out: &mut [u8]| -> Option<usize> {
        let dst = out.get_mut(..b.len())?;
        dst.copy_from_slice(b);
        Some(b.len())
    };
    if let Some(written) = fits(bytes, output) {
        return DispatchResult {
            ntstatus: p::ntstatus_for(status),
            written,
        };
    }
    let e = ErrorReply::new(
        Status::BufferTooSmall,
        ObjectRef::Request,
        FieldId::NONE,
        "",
    )
    .with_args(bytes.len() as u64, 0);
    let small = p::encode_reply(&Err(e));
    match fits(&small, output) {
        Some(written) => DispatchResult {
            ntstatus: p::ntstatus_for(Status::BufferTooSmall),
            written,
        },
        None => DispatchResult {
            ntstatus: p::status::STATUS_BUFFER_TOO_SMALL,
            written: 0,
        },
    }
}
