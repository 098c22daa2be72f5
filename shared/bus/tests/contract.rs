//! The bus contract suite, run against `MemoryBus` (paused clock) and `NatsBus` (a real nats-server
//! 2.9 per test), including the handler kernel's cases. Every case in `nl_testkit::contract::CASES`
//! must appear in both lists.

use nl_testkit::{NatsServer, contract};
use nl_bus::{MemoryBus, NatsBus};

macro_rules! contract_cases {
    ($($case:ident),* $(,)?) => {
        mod memory {
            use std::sync::Arc;

            use nl_bus::Bus;

            $(
                #[tokio::test(start_paused = true)]
                async fn $case() {
                    let bus: Arc<dyn Bus> = Arc::new(nl_bus::MemoryBus::default());
                    nl_testkit::contract::$case(&bus).await;
                }
            )*
        }

        mod nats {
            use std::sync::Arc;

            use nl_bus::Bus;

            $(
                #[tokio::test]
                async fn $case() {
                    let server = nl_testkit::NatsServer::start().await;
                    let bus: Arc<dyn Bus> = Arc::new(nl_bus::NatsBus::connect(&server.bus_config()).await.expect("connect"));
                    nl_testkit::contract::$case(&bus).await;
                }
            )*
        }

        #[test]
        fn every_case_is_listed() {
            let listed = [$(stringify!($case)),*];
            assert_eq!(listed.as_slice(), contract::CASES);
        }
    };
}

contract_cases!(
    publish_fetch_ack,
    publish_batch_in_order,
    dedup_by_id,
    redelivery_after_nak,
    nak_delay_is_honoured,
    redelivery_after_ack_wait,
    dead_letter_after_max_deliver_naks,
    dead_letter_on_term,
    dead_letter_after_ack_wait_exhausted,
    no_loss_on_consumer_restart,
    delete_and_recreate_consumer,
    two_subscriptions_share_work,
    filter_subject_selects,
    max_ack_pending_bounds_outstanding,
    consumer_state_counts,
    kernel_done_publishes_then_acks,
    kernel_retry_redelivers_after_the_delay,
    kernel_poison_goes_to_the_dlq,
    kernel_publish_failure_naks,
    kernel_nak_on_drop_redelivers_promptly,
    kernel_max_deliver_exhausted_goes_to_the_dlq,
    kernel_same_order_key_stays_in_order,
    typed_envelope_round_trips,
);

/// The `run(name)` dispatcher reaches every case (used by other crates to run the suite by name).
#[tokio::test(start_paused = true)]
async fn dispatcher_runs_every_case() {
    for case in contract::CASES {
        let bus: std::sync::Arc<dyn nl_bus::Bus> = std::sync::Arc::new(MemoryBus::default());
        contract::run(case, &bus).await;
    }
}

#[tokio::test]
async fn nats_server_helper_starts_and_stops() {
    let server = NatsServer::start().await;
    let bus = NatsBus::connect(&server.bus_config()).await.expect("connect");
    assert!(server.url().starts_with("nats://127.0.0.1:"));
    drop(bus);
    let port = server.port();
    drop(server);
    let refused =
        nl_testkit::wait_until(std::time::Duration::from_secs(5), || async move { tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() })
            .await;
    assert!(refused, "server killed on drop");
}
