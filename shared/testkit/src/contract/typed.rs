//! The contract case for typed payloads: a message carrying an [`Envelope`] ([`Message::typed`]) is
//! delivered as that envelope by either bus (`MemoryBus` hands it over as is, `NatsBus` writes its JSON
//! once and parses it back), dedups with the JSON form of the same event, and is dead-lettered whole.

use std::sync::Arc;

use chrono::TimeZone;
use nl_bus::{Bus, Message};
use nl_domain::{Envelope, EventType};

use super::{Ns, SOON, dlq_copy, drain, wait_dlq};

fn envelope(n: u32) -> Envelope {
    let ts = chrono::Utc.with_ymd_and_hms(2026, 11, 21, 20, 9, 50).single().expect("a valid time") + chrono::Duration::milliseconds(i64::from(n));
    let meta = serde_json::json!({"note": format!("typed {n} – ünïcode"), "nested": {"list": [1, 2.5, null, "x"], "flag": true}});
    Envelope::new(EventType::Manual, &["typed", &n.to_string()], ts, "nl_20261121_200950Z_deadbeef", "cfg", meta).with_asset("cex:okx:NEW").with_symbol("NEW")
}

/// A typed envelope and the JSON of another arrive as envelopes equal to what was published; the JSON of
/// the typed one is a duplicate of it; a terminated typed message's dead letter is the same envelope.
pub async fn typed_envelope_round_trips(bus: &Arc<dyn Bus>) {
    let bus = bus.as_ref();
    let ns = Ns::new();
    let subject = ns.subject("x");
    let (first, second) = (envelope(1), envelope(2));
    let mut typed = Message::typed(first.clone());
    assert!(typed.payload.is_typed(), "Message::typed carries the envelope");
    assert_eq!((typed.subject.as_str(), typed.id.as_str()), ("nl.evt.manual.note", first.event_id.as_str()), "subject and id from the envelope");
    typed.subject.clone_from(&subject);
    let as_json = Message::new(&subject, second.event_id.as_str(), second.to_json().expect("json"));
    let acks = bus.publish_batch(vec![typed, as_json]).await.expect("publish");
    assert!(acks.iter().all(|a| !a.duplicate));
    let again = Message::new(&subject, first.event_id.as_str(), first.to_json().expect("json"));
    assert!(bus.publish(again).await.expect("publish again").duplicate, "the JSON of a published typed event is a duplicate of it");

    let before = bus.dead_letter_count().await.expect("dlq count");
    let spec = ns.spec(ns.all());
    let mut sub = bus.subscribe(spec.clone()).await.expect("subscribe");
    let got = drain(sub.as_mut(), 2, SOON).await;
    assert_eq!(got.len(), 2);
    for (d, want) in got.iter().zip([&first, &second]) {
        let env = d.message.payload.to_envelope().expect("delivered as an envelope");
        assert_eq!(&*env, want, "the envelope round-trips");
        assert_eq!(&Envelope::from_json(&d.message.payload).expect("its bytes are its JSON"), want);
        assert_eq!(d.message.id, want.event_id.0);
    }
    got[1].ack().await.expect("ack");
    got[0].term("poison: typed").await.expect("term");
    wait_dlq(bus, before + 1).await;
    let dead = dlq_copy(bus, &ns, &spec.durable).await;
    assert_eq!(*dead.message.payload.to_envelope().expect("dead letter is an envelope"), first, "dead-lettered whole");
}
