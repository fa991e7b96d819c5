//! A test client: encodes requests, dispatches them into a ControlPlane
//! over memhost, decodes the replies.

#![allow(dead_code)]

use std::sync::Arc;

use qos_control::memhost::MemHost;
use qos_control::{ControlPlane, DispatchResult};
use qos_proto::*;

pub struct Client {
    pub plane: ControlPlane<Arc<MemHost>>,
    pub host: Arc<MemHost>,
    pub capacity: usize,
}

impl Client {
    pub fn new() -> Self {
        let host = Arc::new(MemHost::with_fake_adapters());
        Self {
            plane: ControlPlane::new(Arc::clone(&host)),
            host,
            capacity: DEFAULT_REPLY_CAPACITY,
        }
    }

    /// Raw dispatch.
    pub fn raw(&mut self, code: u32, input: &[u8], cap: usize) -> (DispatchResult, Vec<u8>) {
        let mut out = vec![0u8; cap];
        let r = self.plane.dispatch(code, input, &mut out);
        out.truncate(r.written);
        (r, out)
    }

    /// Sends a request; checks the NTSTATUS agrees with the reply.
    pub fn call(&mut self, req: &Request) -> Reply {
        let (r, out) = self.raw(req.code(), &req.encode(), self.capacity);
        let reply = decode_reply(req.op(), &out).expect("reply decodes");
        match &reply {
            Ok(_) => assert_eq!(r.ntstatus, 0),
            Err(e) => {
                assert_eq!(r.ntstatus, ntstatus_for(e.status));
                assert_eq!(status_of_ntstatus(r.ntstatus), Some(e.status));
            }
        }
        reply
    }

    pub fn ok(&mut self, req: &Request) -> ReplyBody {
        match self.call(req) {
            Ok(b) => b,
            Err(e) => panic!("{req:?} refused: {e}"),
        }
    }

    pub fn err(&mut self, req: &Request) -> ErrorReply {
        match self.call(req) {
            Ok(b) => panic!("{req:?} accepted: {b:?}"),
            Err(e) => e,
        }
    }

    pub fn add_flow(&mut self, adapter: u32, id: u32, spec: FlowSpec) -> u32 {
        match self.ok(&Request::AddFlow {
            adapter,
            flow: FlowDef { id, spec },
        }) {
            ReplyBody::Created { id } => id,
            b => panic!("{b:?}"),
        }
    }

    pub fn add_filter(&mut self, adapter: u32, f: Filter) -> u32 {
        match self.ok(&Request::AddFilter { adapter, filter: f }) {
            ReplyBody::Created { id } => id,
            b => panic!("{b:?}"),
        }
    }

    pub fn flows(&mut self, adapter: u32) -> Vec<FlowEntry> {
        let mut all = Vec::new();
        let mut start = 0;
        loop {
            match self.ok(&Request::EnumFlows {
                adapter,
                start,
                with_stats: true,
            }) {
                ReplyBody::Flows(p) => {
                    all.extend(p.items);
                    match p.next {
                        Some(n) => start = n,
                        None => return all,
                    }
                }
                b => panic!("{b:?}"),
            }
        }
    }

    pub fn filters(&mut self, adapter: u32) -> Vec<Filter> {
        let mut all = Vec::new();
        let mut start = 0;
        loop {
            match self.ok(&Request::EnumFilters { adapter, start }) {
                ReplyBody::Filters(p) => {
                    all.extend(p.items);
                    match p.next {
                        Some(n) => start = n,
                        None => return all,
                    }
                }
                b => panic!("{b:?}"),
            }
        }
    }

    pub fn policies(&mut self, adapter: u32) -> Vec<Policy> {
        match self.ok(&Request::EnumPolicies { adapter, start: 0 }) {
            ReplyBody::Policies(p) => p.items,
            b => panic!("{b:?}"),
        }
    }

    /// Everything a reader can see of an adapter's configuration.
    pub fn state(
        &mut self,
        adapter: u32,
    ) -> (
        Vec<FlowEntry>,
        Vec<Filter>,
        Vec<Policy>,
        ReplyBody,
        ReplyBody,
    ) {
        let mut flows = self.flows(adapter);
        for f in &mut flows {
            f.stats = None;
        }
        (
            flows,
            self.filters(adapter),
            self.policies(adapter),
            self.ok(&Request::GetMaps { adapter }),
            self.ok(&Request::GetOptions { adapter }),
        )
    }
}

pub fn be(name: &str) -> FlowSpec {
    FlowSpec::best_effort(name.into())
}

pub fn guaranteed(name: &str, rate: u64) -> FlowSpec {
    FlowSpec {
        service_type: ServiceType::Guaranteed,
        token_rate: Some(rate),
        bucket: 3000,
        ..be(name)
    }
}

pub fn v4_filter(id: u32, flow: u32, dst: u32, len: u8) -> Filter {
    Filter {
        id,
        flow,
        family: Family::V4,
        src: Prefix::ANY,
        dst: Prefix {
            addr: u128::from(dst),
            len,
        },
        src_ports: PortRange::ANY,
        dst_ports: PortRange::ANY,
        protocol: ProtocolMatch::Any,
        dscp: None,
        vlan: None,
        precedence: 127,
    }
}

pub fn policy(id: u32) -> Policy {
    Policy {
        id,
        name: String::new(),
        protocol: PolicyProtocol::Both,
        family: PolicyFamily::Both,
        src: None,
        dst: None,
        src_ports: None,
        dst_ports: Some(PortRange { lo: 443, hi: 443 }),
        dscp: Some(18),
        pcp: None,
        throttle_bps: None,
        precedence: 127,
    }
}

pub fn default_options() -> AdapterOptions {
    AdapterOptions {
        queue_packets: 4096,
        queue_bytes: 8 << 20,
        max_outstanding_sends: 128,
        admission_share: 100,
        marking_override: MarkingOverride::Allow,
        flow_mode: FlowMode::Filters,
    }
}
