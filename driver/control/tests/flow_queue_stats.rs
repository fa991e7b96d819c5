//! A flow's shaper and sequencer figures reach the wire (QueryFlow and
//! EnumFlows with statistics) as the scheduler keeps them; the per-flow
//! netcard figures, which the scheduler does not keep, are 0.

mod common;

use common::*;
use qos_proto::*;

#[test]
fn flow_queue_figures_reach_the_wire() {
    let mut c = Client::new();
    let shaped = c.add_flow(
        1,
        0,
        FlowSpec {
            token_rate: Some(15_000),
            bucket: 1500,
            mode: Some(SdMode::Shape),
            ..guaranteed("shaped", 15_000)
        },
    );
    let lone = c.add_flow(1, 0, be("lone"));
    let engine = c
        .host
        .with_scheduler(1, |s, snap| {
            let (i, j) = (snap.index_of(shaped).unwrap(), snap.index_of(lone).unwrap());
            // The bucket passes the first shaped packet; 40 more wait in
            // the shaper, each finding one more there.
            for n in 0..41 {
                s.enqueue(0, Some(i), 1500, n).unwrap();
            }
            assert_eq!(s.dequeue(0).map(|r| r.pkt), Some(0));
            s.send_completed(1);
            // Lone packets of the other flow, each alone in the sequencer.
            for n in 100..200 {
                s.enqueue(0, Some(j), 100, n).unwrap();
                assert_eq!(s.dequeue(0).map(|r| r.pkt), Some(n));
                s.send_completed(1);
            }
            (s.flow_stats(i).unwrap(), s.flow_stats(j).unwrap())
        })
        .unwrap();
    let (es, el) = engine;
    // What the scheduler reports, before the wire: the shaped flow's
    // samples were 0, 1, ..., 40 in the shaper and always 1 (the first
    // packet, still there) in the sequencer; the lone flow's 0 and 1.
    assert_eq!(
        (es.max_packets_in_shaper, es.max_packets_in_sequencer),
        (40, 1)
    );
    assert!(es.average_packets_in_shaper > 5, "{es:?}");
    assert_eq!(es.average_packets_in_sequencer, 1);
    assert_eq!(
        (el.max_packets_in_shaper, el.average_packets_in_shaper),
        (0, 0)
    );
    assert_eq!(
        (el.max_packets_in_sequencer, el.average_packets_in_sequencer),
        (1, 1)
    );
    let wire = |e: &qos_engine::psched::FlowStats| {
        (
            ShaperStats {
                max_packets_in_shaper: u64::from(e.max_packets_in_shaper),
                average_packets_in_shaper: u64::from(e.average_packets_in_shaper),
            },
            SequencerStats {
                max_packets_in_netcard: 0,
                average_packets_in_netcard: 0,
                max_packets_in_sequencer: u64::from(e.max_packets_in_sequencer),
                average_packets_in_sequencer: u64::from(e.average_packets_in_sequencer),
                nonconforming_packets_transmitted: e.nonconforming_packets_transmitted,
            },
        )
    };
    for (id, e) in [(shaped, &es), (lone, &el)] {
        let ReplyBody::Flow(f) = c.ok(&Request::QueryFlow { adapter: 1, id }) else {
            panic!()
        };
        let st = f.stats.unwrap();
        assert_eq!((st.shaper, st.sequencer), wire(e), "flow {id}");
    }
    let listed = c.flows(1);
    let st = listed
        .iter()
        .find(|f| f.id == shaped)
        .and_then(|f| f.stats.clone())
        .unwrap();
    assert_eq!((st.shaper, st.sequencer), wire(&es));
    // The adapter's own figures still come with netcard figures.
    let ReplyBody::Stats(a) = c.ok(&Request::GetStats { adapter: 1 }) else {
        panic!()
    };
    assert_eq!(a.sequencer.max_packets_in_netcard, 1);
    assert_eq!(a.shaper.max_packets_in_shaper, 40);
}
