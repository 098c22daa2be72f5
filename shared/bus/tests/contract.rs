//! The bus contract suite, run against `MemoryBus` (paused clock) and `NatsBus` (a real nats-server
//! 2.9 per test). Every case in `nl_bus::testkit::contract::CASES` must appear in both lists.

use nl_bus::testkit::{NatsServer, contract};
use nl_bus::{MemoryBus, NatsBus};

macro_rules! contract_cases {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(start_paused = true)]
                async fn $case() {
                    let bus = nl_bus::MemoryBus::default();
                    nl_bus::testkit::contract::$case(&bus).await;
                }
            )*
        }

        mod nats {
            $(
                #[tokio::test]
                async fn $case() {
                    let server = nl_bus::testkit::NatsServer::start().await;
                    let bus = nl_bus::NatsBus::connect(&server.bus_config()).await.expect("connect");
                    nl_bus::testkit::contract::$case(&bus).await;
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
);

/// The `run(name)` dispatcher reaches every case (used by other crates to run the suite by name).
#[tokio::test(start_paused = true)]
async fn dispatcher_runs_every_case() {
    for case in contract::CASES {
        contract::run(case, &MemoryBus::default()).await;
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
        nl_bus::testkit::wait_until(std::time::Duration::from_secs(5), || async move { tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() })
            .await;
    assert!(refused, "server killed on drop");
}
