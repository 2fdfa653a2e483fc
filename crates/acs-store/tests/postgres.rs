//! The store behaviour suite on PostgreSQL, each case in a fresh schema, and what is
//! particular to PostgreSQL: migrations under the advisory lock, events and their
//! pruning, group commit.
//!
//! The database is `TEST_POSTGRES_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/test`. Each test creates its schema
//! (`acs_test_<random>`) and drops it at the end, also when the test fails.

// Helpers outside #[test] functions are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod suite;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use acs_core::Timestamp;
use acs_core::change::Change;
use acs_core::device::ValueType;
use acs_store::postgres::{PostgresOptions, PostgresStore, migrate};
use acs_store::{SessionClaim, Store};
use serde_json::json;
use sqlx::{Connection, Executor, PgConnection};

use suite::{T, dev, inform, inform_record};

fn url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A schema name no other test uses.
fn fresh_schema() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "acs_test_{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000_000,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn options(schema: &str) -> PostgresOptions {
    PostgresOptions {
        schema: Some(schema.to_owned()),
        pool_size: 4,
        ..PostgresOptions::default()
    }
}

async fn open(schema: &str) -> PostgresStore {
    PostgresStore::connect(&url(), options(schema))
        .await
        .unwrap()
}

/// A connection of the test's own, in `schema`.
async fn admin(schema: &str) -> PgConnection {
    let mut conn = PgConnection::connect(&url()).await.unwrap();
    conn.execute(format!("SET search_path TO \"{schema}\"").as_str())
        .await
        .unwrap();
    conn
}

/// Runs `test` with a fresh schema name, then drops the schema, also if `test` panicked
/// (the panic is raised again after).
async fn with_schema<F, Fut>(test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let schema = fresh_schema();
    let result = tokio::spawn(test(schema.clone())).await;
    let mut conn = PgConnection::connect(&url()).await.unwrap();
    conn.execute(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE").as_str())
        .await
        .unwrap();
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                with_schema(|schema| async move {
                    suite::$case(open(&schema).await).await;
                })
                .await;
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

/// The device queries again with every page planned by PostgreSQL (as for more than
/// `few_matches` matches), not ordered from the matches' ids.
mod planned_pages {
    use super::*;

    async fn open(schema: &str) -> PostgresStore {
        let options = PostgresOptions {
            few_matches: 0,
            ..options(schema)
        };
        PostgresStore::connect(&url(), options).await.unwrap()
    }

    suite!(
        filters,
        sorting_and_paging,
        projections,
        devices_render_as_genieacs_shows_them,
        filters_agree_in_memory,
        numbers_compare_the_same_on_every_connection
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_batch_does_not_affect_the_others() {
    with_schema(|schema| async move {
        let store = open(&schema).await;
        suite::a_failing_batch_does_not_affect_the_others(store.clone()).await;
        // The failing batch was rolled back alone, inside a group.
        let stats = store.writer_stats();
        assert_eq!(stats.failed, 1, "{stats:?}");
        assert!(stats.transactions < stats.calls, "{stats:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_across_reopen() {
    with_schema(|schema| async move {
        let store = open(&schema).await;
        suite::durable_across_reopen(store, || async move { open(&schema).await }).await;
    })
    .await;
}

async fn versions(schema: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM schema_migrations")
        .fetch_one(&mut admin(schema).await)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_apply_once() {
    with_schema(|schema| async move {
        let opts = options(&schema);
        assert_eq!(
            migrate(&url(), &opts).await.unwrap(),
            [1, 2, 3, 4, 5, 6, 7, 8]
        );
        assert_eq!(migrate(&url(), &opts).await.unwrap(), Vec::<i64>::new());
        let store = open(&schema).await;
        assert_eq!(store.migrate().await.unwrap(), Vec::<i64>::new());
        assert_eq!(versions(&schema).await, 8);
        // A database from a newer program is refused.
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)")
            .execute(&mut admin(&schema).await)
            .await
            .unwrap();
        assert!(
            PostgresStore::connect(&url(), options(&schema))
                .await
                .is_err()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_apply_once() {
    with_schema(|schema| async move {
        // Nodes starting together: each migrates; the advisory lock makes them take turns.
        let opts = options(&schema);
        let runs = (0..4).map(|_| {
            let opts = opts.clone();
            tokio::spawn(async move { migrate(&url(), &opts).await })
        });
        let mut applied = Vec::new();
        for run in runs {
            applied.extend(run.await.unwrap().unwrap());
        }
        assert_eq!(applied, [1, 2, 3, 4, 5, 6, 7, 8]);
        let all = versions(&schema).await;
        assert_eq!(all, 8);

        // Stores connecting together on a fresh schema too.
        let other = format!("{schema}_b");
        let db = url();
        let (a, b) = tokio::join!(
            PostgresStore::connect(&db, options(&other)),
            PostgresStore::connect(&db, options(&other)),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        a.commit(vec![inform(&dev("A"), T, vec![])]).await.unwrap();
        assert!(b.device_summary(&dev("A")).await.unwrap().is_some());
        assert_eq!(versions(&other).await, all);
        drop((a, b));
        let mut conn = PgConnection::connect(&url()).await.unwrap();
        conn.execute(format!("DROP SCHEMA \"{other}\" CASCADE").as_str())
            .await
            .unwrap();
    })
    .await;
}

async fn events(schema: &str) -> Vec<(i64, String)> {
    sqlx::query_as("SELECT ts, codes FROM events ORDER BY ts")
        .fetch_all(&mut admin(schema).await)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_recorded_and_pruned() {
    with_schema(|schema| async move {
        let a = dev("A");
        let day = 86_400_000;
        let store = open(&schema).await;
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
        let got = events(&schema).await;
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0],
            (T, r#"[["1 BOOT",""],["M Reboot","k1"]]"#.to_owned())
        );

        // 8 days after the first (the default retention is 7): it is pruned.
        let store = open(&schema).await;
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
        let got = events(&schema).await;
        assert_eq!(
            got.iter().map(|e| e.0).collect::<Vec<_>>(),
            [T + 5 * day, T + 8 * day, T + 8 * day + 1]
        );

        // With no retention, no events are kept.
        let store = PostgresStore::connect(
            &url(),
            PostgresOptions {
                event_retention_days: 0,
                ..options(&schema)
            },
        )
        .await
        .unwrap();
        store
            .commit(vec![inform(&a, T + 40 * day, vec![])])
            .await
            .unwrap();
        drop(store);
        assert_eq!(events(&schema).await.len(), 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_are_grouped() {
    with_schema(|schema| async move {
        let store = open(&schema).await;
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
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_store_drops_nothing_acknowledged() {
    with_schema(|schema| async move {
        let store = open(&schema).await;
        let other = store.clone();
        store
            .commit(vec![inform(&dev("A"), T, vec![])])
            .await
            .unwrap();
        drop(store);
        // Clones keep the store open.
        let s = other.device_summary(&dev("A")).await.unwrap().unwrap();
        assert_eq!(s.last_inform, Some(Timestamp(T)));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_writing_provisioning_get_one_revision_each() {
    use acs_core::preset::{Name, ScriptKind};
    with_schema(|schema| async move {
        // Two nodes writing at once: every write gets a revision of its own, and a node
        // whose copy has the current revision has what the other wrote.
        let a = open(&schema).await;
        let b = open(&schema).await;
        let writes = (0..20).map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                let name = Name::parse(&format!("p{i}")).unwrap();
                store
                    .put_script(ScriptKind::Provision, &name, &format!("// {i}"))
                    .await
                    .unwrap()
            })
        });
        let mut revisions = Vec::new();
        for w in writes {
            revisions.push(w.await.unwrap());
        }
        revisions.sort_unstable();
        assert_eq!(revisions, (1..=20).collect::<Vec<u64>>());
        let seen = a.provisioning().await.unwrap();
        assert_eq!(seen.revision, 20);
        assert_eq!(seen.provisioning.provisions.len(), 20);
        assert_eq!(b.provisioning_revision().await.unwrap(), 20);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_share_one_schema() {
    with_schema(|schema| async move {
        // Two stores on one schema, as two ACS nodes: each sees what the other wrote,
        // paths the other interned included.
        let a = open(&schema).await;
        let b = open(&schema).await;
        a.commit(vec![inform(
            &dev("A"),
            T,
            vec![suite::param("Device.X", "1", ValueType::Int, T)],
        )])
        .await
        .unwrap();
        let page = b
            .query_devices(&suite::query(json!({"Device.X": 1})))
            .await
            .unwrap();
        assert_eq!(page.total, 1);
        b.commit(vec![inform(
            &dev("B"),
            T,
            vec![
                suite::param("Device.X", "1", ValueType::Int, T),
                suite::param("Device.Y", "2", ValueType::Int, T),
            ],
        )])
        .await
        .unwrap();
        let page = a
            .query_devices(&suite::query(json!({"Device.X": 1, "Device.Y": 2})))
            .await
            .unwrap();
        assert_eq!(page.total, 1);
        let data = a.session_data(&dev("B"), Timestamp(T)).await.unwrap();
        assert_eq!(data.data.params.len(), 2);
        // A device deleted by one node is gone for the other's writer too.
        assert!(b.delete_device(&dev("A")).await.unwrap());
        let err = a
            .commit(vec![Change::Params {
                device: dev("A"),
                updates: vec![suite::param("Device.X", "2", ValueType::Int, T)],
            }])
            .await;
        assert!(err.is_err());
        assert!(a.device_summary(&dev("A")).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regex_postgres_cannot_run_is_an_invalid_query() {
    with_schema(|schema| async move {
        let store = open(&schema).await;
        store
            .commit(vec![inform(&dev("A"), T, vec![])])
            .await
            .unwrap();
        // Valid for Rust's regex, but PostgreSQL takes (?i) only at the start.
        let err = store
            .query_devices(&suite::query(json!({"_id": {"$regex": "^A(?i)b"}})))
            .await
            .unwrap_err();
        assert!(
            matches!(err, acs_store::StoreError::InvalidQuery(_)),
            "{err:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_survives_a_lost_connection() {
    with_schema(|schema| async move {
        // Named, so that only this store's connections are ended.
        let name = schema.clone();
        let separator = if url().contains('?') { '&' } else { '?' };
        let db = format!("{}{separator}application_name={name}", url());
        let store = PostgresStore::connect(&db, options(&schema)).await.unwrap();
        store
            .commit(vec![inform(&dev("A"), T, vec![])])
            .await
            .unwrap();
        let mut conn = PgConnection::connect(&url()).await.unwrap();
        let ended: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1",
        )
        .bind(&name)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert!(!ended.is_empty());
        // The server has closed them; the next group starts on a new connection.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        store
            .commit(vec![inform(&dev("B"), T, vec![])])
            .await
            .unwrap();
        let page = store.query_devices(&suite::query(json!({}))).await.unwrap();
        assert_eq!(page.total, 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_is_in_session_on_one_node_at_a_time() {
    with_schema(|schema| async move {
        let a = open(&schema).await;
        let b = open(&schema).await;
        let d = dev("lease");
        let t = |s: i64| Timestamp::from_millis(T + s * 1000);
        let claim = |owner: &str, session: &str| SessionClaim {
            owner: owner.into(),
            session: session.into(),
        };
        let (a1, a2, b1) = (
            claim("node-a", "1"),
            claim("node-a", "2"),
            claim("node-b", "1"),
        );
        assert!(a.claim_session(&d, &a1, t(0), t(30)).await.unwrap());
        assert!(!b.claim_session(&d, &b1, t(1), t(31)).await.unwrap());
        // Renewing is claiming again.
        assert!(a.claim_session(&d, &a1, t(20), t(50)).await.unwrap());
        assert!(!b.claim_session(&d, &b1, t(40), t(70)).await.unwrap());
        // Node a died: its claim expires and b takes the device.
        assert!(b.claim_session(&d, &b1, t(50), t(80)).await.unwrap());
        // a's late release does not free b's claim.
        a.release_session(&d, &a1).await.unwrap();
        assert!(!a.claim_session(&d, &a2, t(51), t(81)).await.unwrap());
        b.release_session(&d, &b1).await.unwrap();
        assert!(a.claim_session(&d, &a1, t(52), t(82)).await.unwrap());
        // The device's next session on the same node takes the claim over; the release of
        // the session before, arriving late, leaves it alone.
        assert!(a.claim_session(&d, &a2, t(53), t(83)).await.unwrap());
        a.release_session(&d, &a1).await.unwrap();
        assert!(!b.claim_session(&d, &b1, t(54), t(84)).await.unwrap());
        a.release_session(&d, &a2).await.unwrap();
        assert!(b.claim_session(&d, &b1, t(55), t(85)).await.unwrap());
        // Other devices are not affected.
        assert!(
            a.claim_session(&dev("other"), &a1, t(55), t(85))
                .await
                .unwrap()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_many_nodes_claiming_at_once_one_wins() {
    with_schema(|schema| async move {
        let stores = [open(&schema).await, open(&schema).await];
        for round in 0..20 {
            let d = dev(&format!("race{round}"));
            let claims = (0..8).map(|n| {
                let store = stores[n % 2].clone();
                let d = d.clone();
                let claim = SessionClaim {
                    owner: format!("node-{n}"),
                    session: "1".into(),
                };
                tokio::spawn(async move {
                    store
                        .claim_session(
                            &d,
                            &claim,
                            Timestamp::from_millis(T),
                            Timestamp::from_millis(T + 30_000),
                        )
                        .await
                        .unwrap()
                })
            });
            let mut won = 0;
            for c in claims.collect::<Vec<_>>() {
                won += usize::from(c.await.unwrap());
            }
            assert_eq!(won, 1, "round {round}");
            let job = format!("job{round}");
            let jobs = (0..8).map(|n| {
                let store = stores[n % 2].clone();
                let job = job.clone();
                tokio::spawn(async move {
                    store
                        .claim_job(
                            &job,
                            &format!("node-{n}"),
                            Timestamp::from_millis(T),
                            Timestamp::from_millis(T + 60_000),
                        )
                        .await
                        .unwrap()
                })
            });
            let mut ran = 0;
            for j in jobs.collect::<Vec<_>>() {
                ran += usize::from(j.await.unwrap());
            }
            assert_eq!(ran, 1, "round {round}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_periodic_job_runs_once_per_period() {
    with_schema(|schema| async move {
        let a = open(&schema).await;
        let b = open(&schema).await;
        let t = |s: i64| Timestamp::from_millis(T + s * 1000);
        assert!(a.claim_job("expire", "node-a", t(0), t(60)).await.unwrap());
        assert!(!b.claim_job("expire", "node-b", t(1), t(61)).await.unwrap());
        assert!(
            !a.claim_job("expire", "node-a", t(59), t(119))
                .await
                .unwrap()
        );
        // Due again: whoever comes first runs it.
        assert!(
            b.claim_job("expire", "node-b", t(60), t(120))
                .await
                .unwrap()
        );
        assert!(
            !a.claim_job("expire", "node-a", t(61), t(121))
                .await
                .unwrap()
        );
        // Another job has its own schedule.
        assert!(a.claim_job("prune", "node-a", t(61), t(121)).await.unwrap());
    })
    .await;
}

/// Informs committed together are written together (a statement per table for the
/// group); what they leave is what one after the other leaves: new devices, changed
/// values, paths that left the Inform keeping the time of the Inform before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grouped_informs_write_what_each_would() {
    with_schema(|schema| async move {
        let store = open(&schema).await;
        let round = |at: i64, params: fn(usize, i64) -> Vec<acs_core::change::ParamUpdate>| {
            let store = store.clone();
            async move {
                let handles: Vec<_> = (0..40)
                    .map(|i| {
                        let store = store.clone();
                        tokio::spawn(async move {
                            store
                                .commit(vec![inform(&dev(&format!("G{i}")), at, params(i, at))])
                                .await
                        })
                    })
                    .collect();
                for h in handles {
                    h.await.unwrap().unwrap();
                }
            }
        };
        round(T, |i, t| {
            vec![
                suite::param("Device.A", &i.to_string(), ValueType::UnsignedInt, t),
                suite::param("Device.N", "100", ValueType::UnsignedInt, t),
            ]
        })
        .await;
        // Devices 0 to 4 inform other paths; the others a changed N.
        round(T + 1000, |i, t| {
            let a = suite::param("Device.A", &i.to_string(), ValueType::UnsignedInt, t);
            if i < 5 {
                vec![a, suite::param("Device.M", "7", ValueType::UnsignedInt, t)]
            } else {
                vec![
                    a,
                    suite::param("Device.N", "101", ValueType::UnsignedInt, t),
                ]
            }
        })
        .await;
        let stats = store.writer_stats();
        assert_eq!((stats.calls, stats.failed), (80, 0), "{stats:?}");
        assert!(stats.informs_batched > 0, "{stats:?}");
        for i in 0..40 {
            let d = dev(&format!("G{i}"));
            let data = store
                .session_data(&d, Timestamp(T + 1000))
                .await
                .unwrap()
                .data;
            let read = |path: &str| {
                let p = &data.params[path];
                (p.value.as_ref().unwrap().text.clone(), p.ts.millis())
            };
            assert_eq!(read("Device.A"), (i.to_string(), T + 1000), "G{i}");
            if i < 5 {
                assert_eq!(read("Device.M"), ("7".into(), T + 1000), "G{i}");
                assert_eq!(read("Device.N"), ("100".into(), T), "G{i}");
            } else {
                assert_eq!(read("Device.N"), ("101".into(), T + 1000), "G{i}");
            }
            let s = store.device_summary(&d).await.unwrap().unwrap();
            assert_eq!(
                (s.registered, s.last_inform),
                (Some(Timestamp(T)), Some(Timestamp(T + 1000)))
            );
        }
        let found = store
            .query_devices(&suite::query(json!({"Device.N": 101})))
            .await
            .unwrap();
        assert_eq!(found.total, 35);
        assert_eq!(events(&schema).await.len(), 80);

        // Ten bootstraps together: each device keeps only what its Inform carried.
        let handles: Vec<_> = (30..40)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let d = dev(&format!("G{i}"));
                    let at = T + 2000;
                    let mut r = inform_record(
                        &d,
                        at,
                        vec![suite::param("Device.A", "0", ValueType::UnsignedInt, at)],
                    );
                    r.bootstrap = true;
                    store.commit(vec![Change::Inform(r)]).await
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap().unwrap();
        }
        for i in 30..40 {
            let d = dev(&format!("G{i}"));
            let data = store
                .session_data(&d, Timestamp(T + 2000))
                .await
                .unwrap()
                .data;
            assert_eq!(data.params.keys().collect::<Vec<_>>(), ["Device.A"], "G{i}");
            let s = store.device_summary(&d).await.unwrap().unwrap();
            assert_eq!(s.last_bootstrap, Some(Timestamp(T + 2000)), "G{i}");
            assert_eq!(s.last_inform, Some(Timestamp(T + 2000)), "G{i}");
        }
    })
    .await;
}
