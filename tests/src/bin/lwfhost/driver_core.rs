//! The driver between the two ports: qoslwf's real Filter* handlers on the
//! simulated NDIS, clocked by real time.
//!
//! - inner frame -> one NBL through FilterSendNetBufferLists (the fake
//!   protocol's send); what the driver sends down reaches the fake
//!   miniport's callback, which writes it to the outer port (inserting an
//!   802.1Q tag when the NBL's 802.1Q info asks for one, as a NIC does).
//! - outer frame -> one NBL through FilterReceiveNetBufferLists; what the
//!   driver indicates up is written to the inner port.
//! - control requests run on the thread that owns the [`Sim`] (it is not
//!   `Send`): [`DriverCore::ioctl`] hands them over a channel.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use qoslwf::sim::{Adapter, AdapterSpec, RxFrame, Sim, TxPacket, WireNbl};

use super::{Core, DirCounters, Wire};

/// NDIS_STATUS_SUCCESS.
const NDIS_STATUS_SUCCESS: i32 = 0;
/// NDIS_STATUS_PENDING.
const NDIS_STATUS_PENDING: i32 = 0x0000_0103;
/// STATUS_DEVICE_NOT_READY: the Sim thread is gone.
const STATUS_DEVICE_NOT_READY: u32 = 0xC000_00A3;

/// One control request for the Sim's thread.
#[derive(Debug)]
pub struct IoctlRequest {
    code: u32,
    input: Vec<u8>,
    output_len: usize,
    reply: mpsc::Sender<(u32, Vec<u8>)>,
}

/// Adds the 802.1Q tag an NBL's out-of-band info asks for to an untagged
/// Ethernet frame (what a miniport does with Ieee8021QNetBufferListInfo).
/// A frame that already carries a tag is left as the driver made it.
fn apply_8021q_info(frame: &[u8], info: usize) -> Option<Vec<u8>> {
    let priority = (info & 0x7) as u16;
    let cfi = ((info >> 3) & 0x1) as u16;
    let vlan = ((info >> 4) & 0x0fff) as u16;
    if priority == 0 && vlan == 0 {
        return None;
    }
    let ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    if matches!(ethertype, 0x8100 | 0x88a8) {
        return None;
    }
    let tci = (priority << 13) | (cfi << 12) | vlan;
    let mut out = Vec::with_capacity(frame.len() + 4);
    out.extend_from_slice(frame.get(..12)?);
    out.extend_from_slice(&0x8100u16.to_be_bytes());
    out.extend_from_slice(&tci.to_be_bytes());
    out.extend_from_slice(frame.get(12..)?);
    Some(out)
}

/// The driver core.
#[derive(Debug)]
pub struct DriverCore {
    adapter: Adapter,
    /// lwfhost paused the filter: the stack above and below is paused too,
    /// so frames arriving meanwhile are dropped here (counted).
    paused: AtomicBool,
    dropped_paused: AtomicU64,
    tagged_by_info: Arc<AtomicU64>,
    requests: Mutex<mpsc::Sender<IoctlRequest>>,
}

impl DriverCore {
    /// Loads the driver into `sim`, attaches it to a simulated Ethernet
    /// miniport named after the outer interface, wires the miniport and
    /// protocol callbacks to the ports and restarts the module.
    pub fn start(
        sim: &mut Sim,
        wire: &Arc<Wire>,
        link_speed_bps: u64,
        mac: [u8; 6],
        if_index: u32,
    ) -> Result<(Arc<Self>, mpsc::Receiver<IoctlRequest>), String> {
        let st = sim.load();
        if st != 0 {
            return Err(format!("DriverEntry failed: {st:#x}"));
        }
        let mut spec = AdapterSpec::ethernet(if_index);
        spec.link_speed = link_speed_bps;
        spec.mac = mac;
        spec.instance_name = wire.outer.name().to_owned();
        spec.miniport_name = format!("\\DEVICE\\{{lwfhost-{}}}", wire.outer.name());
        let adapter = sim
            .attach(&spec)
            .map_err(|st| format!("FilterAttach failed: {st:#x}"))?;
        adapter.set_recording(false);
        let tagged_by_info = Arc::new(AtomicU64::new(0));
        {
            let wire = Arc::clone(wire);
            let tagged = Arc::clone(&tagged_by_info);
            adapter.set_on_wire(move |w: &WireNbl| {
                for f in &w.frames {
                    let tagged_frame = apply_8021q_info(f, w.ieee8021q);
                    if tagged_frame.is_some() {
                        tagged.fetch_add(1, Ordering::Relaxed);
                    }
                    let bytes = tagged_frame.as_deref().unwrap_or(f);
                    send_counted(&wire.outer, &wire.down_out, bytes);
                }
            });
        }
        {
            let wire = Arc::clone(wire);
            adapter.set_on_receive(move |r: &RxFrame| {
                for f in &r.frames {
                    send_counted(&wire.inner, &wire.up_out, f);
                }
            });
        }
        let st = adapter.restart();
        if st != NDIS_STATUS_SUCCESS {
            return Err(format!("FilterRestart failed: {st:#x}"));
        }
        let (tx, rx) = mpsc::channel();
        Ok((
            Arc::new(Self {
                adapter,
                paused: AtomicBool::new(false),
                dropped_paused: AtomicU64::new(0),
                tagged_by_info,
                requests: Mutex::new(tx),
            }),
            rx,
        ))
    }

    /// The simulated adapter the module is attached to.
    pub fn adapter(&self) -> &Adapter {
        &self.adapter
    }

    /// Runs one control request on the Sim's thread.
    pub fn serve_request(sim: &Sim, req: IoctlRequest) {
        let r = sim.ioctl(req.code, &req.input, req.output_len);
        let _ = req.reply.send((r.status as u32, r.output));
    }

    /// What the simulated NDIS recorded against the driver (contract
    /// violations), and its live-object counts, for the exit report.
    pub fn sim_report(sim: &Sim) -> Vec<String> {
        let mut lines = vec![format!("sim live objects: {:?}", sim.live())];
        let errors = sim.errors();
        lines.push(format!(
            "sim recorded {} NDIS rule violation(s)",
            errors.len()
        ));
        lines.extend(
            errors
                .into_iter()
                .take(20)
                .map(|e| format!("  violation: {e}")),
        );
        lines
    }
}

fn send_counted(port: &super::RawPort, counters: &DirCounters, frame: &[u8]) {
    match port.send(frame) {
        Ok(()) => counters.count(frame.len()),
        Err(_) => {
            counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Core for DriverCore {
    fn on_inner_frame(&self, frame: &[u8]) {
        if self.paused.load(Ordering::Acquire) {
            self.dropped_paused.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.adapter.send(&[TxPacket::frame(frame)], 0);
    }

    fn on_outer_frame(&self, frame: &[u8]) {
        if self.paused.load(Ordering::Acquire) {
            self.dropped_paused.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.adapter.receive(&[TxPacket::frame(frame)], 0);
    }

    fn pause(&self) -> Result<(), String> {
        self.paused.store(true, Ordering::Release);
        match self.adapter.pause() {
            NDIS_STATUS_SUCCESS => Ok(()),
            NDIS_STATUS_PENDING => {
                // The module completes the pause once its sends are back.
                for _ in 0..2000 {
                    if self.adapter.is_paused() {
                        return Ok(());
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err("pause still pending after 2 s".to_owned())
            }
            st => Err(format!("FilterPause returned {st:#x}")),
        }
    }

    fn restart(&self) -> Result<(), String> {
        match self.adapter.restart() {
            NDIS_STATUS_SUCCESS => {
                self.paused.store(false, Ordering::Release);
                Ok(())
            }
            st => Err(format!("FilterRestart returned {st:#x}")),
        }
    }

    fn ioctl(&self, code: u32, input: &[u8], output_len: usize) -> (u32, Vec<u8>) {
        let (tx, rx) = mpsc::channel();
        let req = IoctlRequest {
            code,
            input: input.to_vec(),
            output_len,
            reply: tx,
        };
        let sent = self
            .requests
            .lock()
            .map(|s| s.send(req).is_ok())
            .unwrap_or(false);
        if !sent {
            return (STATUS_DEVICE_NOT_READY, Vec::new());
        }
        rx.recv().unwrap_or((STATUS_DEVICE_NOT_READY, Vec::new()))
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        let by_status = self.adapter.completion_counts();
        let ok = by_status.get(&NDIS_STATUS_SUCCESS).copied().unwrap_or(0);
        let failed = by_status
            .iter()
            .filter(|(st, _)| **st != NDIS_STATUS_SUCCESS)
            .map(|(_, n)| *n)
            .sum();
        vec![
            ("driver_sent_down", self.adapter.sent_down()),
            ("driver_completed_ok", ok),
            ("driver_completed_failed", failed),
            (
                "dropped_while_paused",
                self.dropped_paused.load(Ordering::Relaxed),
            ),
        ]
    }

    fn report(&self) -> Vec<String> {
        let lines = vec![
            "core: qoslwf driver (simulated NDIS, real time)".to_owned(),
            format!("sent down by the driver: {}", self.adapter.sent_down()),
            format!(
                "send completions by NDIS status: {:?}",
                self.adapter.completion_counts()
            ),
            format!(
                "sends outstanding at exit: {}",
                self.adapter.sends_outstanding()
            ),
            format!(
                "frames dropped while paused: {}",
                self.dropped_paused.load(Ordering::Relaxed)
            ),
            format!(
                "802.1Q tags inserted from NBL info: {}",
                self.tagged_by_info.load(Ordering::Relaxed)
            ),
        ];
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::apply_8021q_info;

    fn frame(ethertype: u16) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(&[0x45, 0, 0, 20]);
        f
    }

    #[test]
    fn no_info_no_tag() {
        assert_eq!(apply_8021q_info(&frame(0x0800), 0), None);
    }

    #[test]
    fn priority_only_inserts_a_priority_tag() {
        let out = apply_8021q_info(&frame(0x0800), 6).unwrap();
        assert_eq!(&out[12..18], &[0x81, 0x00, 0xc0, 0x00, 0x08, 0x00]);
        assert_eq!(out.len(), frame(0x0800).len() + 4);
    }

    #[test]
    fn vlan_and_priority() {
        // priority 5, VLAN 100.
        let out = apply_8021q_info(&frame(0x86dd), 5 | (100 << 4)).unwrap();
        assert_eq!(&out[12..16], &[0x81, 0x00, 0xa0, 100]);
        assert_eq!(&out[16..18], &[0x86, 0xdd]);
    }

    #[test]
    fn tagged_frame_is_left_alone() {
        assert_eq!(apply_8021q_info(&frame(0x8100), 6), None);
    }

    #[test]
    fn runt_is_left_alone() {
        assert_eq!(apply_8021q_info(&[0u8; 10], 6), None);
    }
}
