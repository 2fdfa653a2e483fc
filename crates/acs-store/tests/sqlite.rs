//! The store behaviour suite on SQLite, each case with a fresh database file, and what is
//! particular to SQLite: migrations, events and their pruning, group commit.

// Helpers outside #[test] functions are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod suite;

use std::path::Path;

use acs_core::Timestamp;
use acs_core::change::Change;
use acs_store::Store;
use acs_store::sqlite::{SqliteOptions, SqliteStore, migrate};
use serde_json::json;

use suite::{T, dev, inform, inform_record};

fn open_with(path: &Path, options: SqliteOptions) -> SqliteStore {
    SqliteStore::open(&path.join("acs.db"), options).unwrap()
}

/// Tests need no durability against power loss: NORMAL saves an fsync per commit.
fn open(path: &Path) -> SqliteStore {
    open_with(
        path,
        SqliteOptions {
            synchronous_full: false,
            ..SqliteOptions::default()
        },
    )
}

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let dir = tempfile::tempdir().unwrap();
                suite::$case(open(dir.path())).await;
            }
        )*
    };
}

suite!(
    inform_creates_and_updates_devices,
    repeated_values_take_the_new_read_time,
    repeated_informs_read_at_their_time,
    informs_write_the_values_that_changed,
    bootstrap_resets_what_is_known,
    params_update_and_delete,
    changes_for_unknown_devices_fail_their_batch,
    tasks_queue_list_and_finish,
    faults_list_and_delete,
    transfers_await_completion,
    tags_and_device_deletion,
    cpe_credentials,
    api_tokens,
    connection_request_targets,
    filters,
    sorting_and_paging,
    devices_render_as_genieacs_shows_them,
    projections,
    filters_agree_in_memory,
    numbers_compare_the_same_on_every_connection,
    provisioning_round_trips,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_batch_does_not_affect_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    suite::a_failing_batch_does_not_affect_the_others(store.clone()).await;
    // The failing batch was rolled back alone, inside a group.
    let stats = store.writer_stats();
    assert_eq!(stats.failed, 1, "{stats:?}");
    assert!(stats.transactions < stats.calls, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let options = SqliteOptions::default();
    assert!(options.synchronous_full);
    let store = open_with(&path, options.clone());
    suite::durable_across_reopen(store, || async move { open_with(&path, options) }).await;
}

#[test]
fn migrations_apply_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acs.db");
    assert_eq!(migrate(&path).unwrap(), [1, 2, 3, 4]);
    assert_eq!(migrate(&path).unwrap(), Vec::<i64>::new());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let versions: i64 = conn
        .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(versions, 4);
    // A database from a newer program is refused.
    conn.execute(
        "INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)",
        [],
    )
    .unwrap();
    drop(conn);
    assert!(SqliteStore::open(&path, SqliteOptions::default()).is_err());
}

fn events(path: &Path) -> Vec<(i64, String)> {
    let conn = rusqlite::Connection::open(path.join("acs.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT ts, codes FROM events ORDER BY ts")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_recorded_and_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let a = dev("A");
    let day = 86_400_000;
    let store = open(dir.path());
    let mut boot = inform_record(&a, T, vec![]);
    boot.events[0].code = "1 BOOT".into();
    boot.events.push(acs_core::change::Event {
        code: "M Reboot".into(),
        command_key: "k1".into(),
    });
    store.commit(vec![Change::Inform(boot)]).await.unwrap();
    store
        .commit(vec![inform(&a, T + 5 * day, vec![])])
        .await
        .unwrap();
    drop(store);
    let got = events(dir.path());
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0],
        (T, r#"[["1 BOOT",""],["M Reboot","k1"]]"#.to_owned())
    );

    // 8 days after the first (the default retention is 7): it is pruned, the second is kept.
    let store = open(dir.path());
    store
        .commit(vec![inform(&a, T + 8 * day, vec![])])
        .await
        .unwrap();
    // Pruning runs after the group; the next group waits for it.
    store
        .commit(vec![inform(&a, T + 8 * day + 1, vec![])])
        .await
        .unwrap();
    assert_eq!(store.writer_stats().events_pruned, 1);
    drop(store);
    let got = events(dir.path());
    assert_eq!(
        got.iter().map(|e| e.0).collect::<Vec<_>>(),
        [T + 5 * day, T + 8 * day, T + 8 * day + 1]
    );

    // With no retention, no events are kept.
    let store = open_with(
        dir.path(),
        SqliteOptions {
            event_retention_days: 0,
            synchronous_full: false,
            ..SqliteOptions::default()
        },
    );
    store
        .commit(vec![inform(&a, T + 40 * day, vec![])])
        .await
        .unwrap();
    drop(store);
    assert_eq!(events(dir.path()).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_are_grouped() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut handles = Vec::new();
    for i in 0..200 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            store
                .commit(vec![inform(&dev(&format!("C{i}")), T, vec![])])
                .await
        }));
    }
    for h in handles {
        h.await.unwrap().unwrap();
    }
    let stats = store.writer_stats();
    assert_eq!(stats.calls, 200);
    assert_eq!(stats.failed, 0);
    assert!(stats.transactions < 200, "{stats:?}");
    let page = store.query_devices(&suite::query(json!({}))).await.unwrap();
    assert_eq!(page.total, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_store_drops_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let other = store.clone();
    store
        .commit(vec![inform(&dev("A"), T, vec![])])
        .await
        .unwrap();
    drop(store);
    // Clones keep the store open.
    assert!(other.device_summary(&dev("A")).await.unwrap().is_some());
    let s = other.device_summary(&dev("A")).await.unwrap().unwrap();
    assert_eq!(s.last_inform, Some(Timestamp(T)));
}

/// The summaries the store holds in memory say what the database says, after every kind
/// of write: compared with a second store on the same file that holds none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summaries_held_agree_with_the_database() {
    use acs_core::change::PendingTransfer;
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let fresh = open_with(
        dir.path(),
        SqliteOptions {
            synchronous_full: false,
            summary_cache_entries: 0,
            ..SqliteOptions::default()
        },
    );
    let a = dev("A");
    async fn agree(store: &SqliteStore, fresh: &SqliteStore, step: &str) {
        let a = dev("A");
        // Twice: the first may read the database, the second is held if the first was.
        for _ in 0..2 {
            assert_eq!(
                store.device_summary(&a).await.unwrap(),
                fresh.device_summary(&a).await.unwrap(),
                "{step}"
            );
        }
    }
    agree(&store, &fresh, "unknown").await;
    store.commit(vec![inform(&a, T, vec![])]).await.unwrap();
    agree(&store, &fresh, "new").await;
    let mut boot = inform_record(&a, T + 1000, vec![]);
    boot.boot = true;
    store.commit(vec![Change::Inform(boot)]).await.unwrap();
    agree(&store, &fresh, "boot").await;
    store
        .commit(vec![Change::ConnectionRequestCredentials {
            device: a.clone(),
            username: "u".into(),
            password: "p".into(),
        }])
        .await
        .unwrap();
    agree(&store, &fresh, "credentials").await;
    store
        .commit(vec![inform(&a, T + 2000, vec![])])
        .await
        .unwrap();
    agree(&store, &fresh, "periodic").await;
    store.add_tag(&a, "x").await.unwrap();
    agree(&store, &fresh, "tag").await;
    store
        .commit(vec![Change::Tags {
            device: a.clone(),
            add: vec!["y".into()],
            remove: vec!["x".into()],
        }])
        .await
        .unwrap();
    agree(&store, &fresh, "provision's tags").await;
    store.remove_tag(&a, "y").await.unwrap();
    agree(&store, &fresh, "untag").await;
    let task = store
        .insert_task(suite::task(&a, json!({"name": "reboot"}), T))
        .await
        .unwrap();
    agree(&store, &fresh, "task").await;
    store
        .commit(vec![Change::TaskDone {
            task,
            device: a.clone(),
        }])
        .await
        .unwrap();
    agree(&store, &fresh, "task done").await;
    let task = store
        .insert_task(suite::task(&a, json!({"name": "reboot"}), T))
        .await
        .unwrap();
    agree(&store, &fresh, "another task").await;
    store.delete_task(task).await.unwrap();
    agree(&store, &fresh, "task deleted").await;
    store
        .commit(vec![Change::DeviceFault {
            device: a.clone(),
            channel: "transfer".into(),
            fault: suite::fault("cwmp.9010", 0, T),
        }])
        .await
        .unwrap();
    agree(&store, &fresh, "fault").await;
    store.delete_fault(&a, "transfer").await.unwrap();
    agree(&store, &fresh, "fault deleted").await;
    store
        .commit(vec![Change::TransferStarted {
            device: a.clone(),
            transfer: PendingTransfer {
                command_key: "k".into(),
                task: None,
                detail: json!({}),
                started: Timestamp(T),
            },
        }])
        .await
        .unwrap();
    agree(&store, &fresh, "transfer").await;
    store
        .commit(vec![Change::TransferCompleted {
            device: a.clone(),
            command_key: "k".into(),
        }])
        .await
        .unwrap();
    agree(&store, &fresh, "transfer completed").await;
    let mut bootstrap = inform_record(&a, T + 3000, vec![]);
    bootstrap.bootstrap = true;
    store.commit(vec![Change::Inform(bootstrap)]).await.unwrap();
    agree(&store, &fresh, "bootstrap").await;

    // Another connection's write: held summaries are dropped at the writer's next group.
    fresh.add_tag(&a, "z").await.unwrap();
    store
        .commit(vec![inform(&dev("B"), T, vec![])])
        .await
        .unwrap();
    agree(&store, &fresh, "written elsewhere").await;

    store.delete_device(&a).await.unwrap();
    agree(&store, &fresh, "deleted").await;
    store
        .commit(vec![inform(&a, T + 4000, vec![])])
        .await
        .unwrap();
    agree(&store, &fresh, "back").await;
}

/// The checkpointer thread copies the WAL into the database file once it passes the mark,
/// the WAL is then reused from its start, and nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkpointer_keeps_the_wal_short() {
    use acs_core::device::ValueType;
    const MARK: u32 = 256;
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        synchronous_full: false,
        checkpoint_frames: MARK,
        ..SqliteOptions::default()
    };
    let store = open_with(dir.path(), options.clone());
    let params = |i: usize| {
        (0..20)
            .map(|k| {
                suite::informed(
                    &format!("Device.X.{k}"),
                    &format!("{i}-{k}"),
                    ValueType::String,
                    T,
                )
            })
            .collect::<Vec<_>>()
    };
    for i in 0..300 {
        store
            .commit(vec![inform(&dev(&format!("K{i}")), T, params(i))])
            .await
            .unwrap();
    }
    let after_writes = store.writer_stats();
    assert!(after_writes.checkpoints > 0, "{after_writes:?}");
    assert_eq!(after_writes.checkpoint_failures, 0);
    // Once the checkpointer has copied the bulk, the writer copies the rest after its
    // next group, and the group after that starts the WAL over.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut round = 0;
    while store.writer_stats().wal_frames >= u64::from(MARK) {
        assert!(
            std::time::Instant::now() < deadline,
            "the WAL was not reused: {:?}",
            store.writer_stats()
        );
        round += 1;
        store
            .commit(vec![inform(&dev("K0"), T + round, params(round as usize))])
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(store.writer_stats().checkpoint_failures, 0);
    drop(store);

    let store = open_with(dir.path(), options);
    let page = store.query_devices(&suite::query(json!({}))).await.unwrap();
    assert_eq!(page.total, 300);
}
