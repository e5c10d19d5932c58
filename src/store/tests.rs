//! The store's test suite, run against both backends: every test below is
//! generated twice, `…::sqlite` on a temp data dir and `…::postgres` on a
//! fresh database (see [`super::testing`]: `P2PD_TEST_DATABASE_URL` or a
//! private instance; never skipped).

use super::content::{NewContent, Targets};
use super::devices::{Enrollment, Preference};
use super::distribution::{ProgressUpdate, Transfer};
use super::observe::DecisionRow;
use super::topology::NewOffice;
use super::*;
use crate::domain::OfficeKind;

/// A fresh, empty store and what keeps it alive.
struct Fresh {
    store: Store,
    _dir: Option<tempfile::TempDir>,
}

fn sqlite() -> Fresh {
    let dir = tempfile::tempdir().unwrap();
    Fresh {
        store: Store::create(dir.path()).unwrap(),
        _dir: Some(dir),
    }
}

fn postgres() -> Fresh {
    let url = testing::database_url();
    Fresh {
        store: Store::open_location(&Location::Postgres(url), true).unwrap(),
        _dir: None,
    }
}

macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            fn body(st: &mut Store) {
                #[allow(clippy::redundant_closure_call)]
                ($body)(st)
            }

            #[test]
            fn sqlite() {
                let mut f = super::sqlite();
                body(&mut f.store);
            }

            #[test]
            fn postgres() {
                let mut f = super::postgres();
                assert_eq!(f.store.backend(), Backend::Postgres);
                body(&mut f.store);
            }
        }
    };
}

fn enroll(st: &mut Store, host: &str, addr: &str, group: &str) -> String {
    st.enroll_device(&Enrollment {
        device_id: None,
        hostname: host,
        addr,
        prefix_len: 24,
        group,
        version: "0.1.0",
        peer_url: "http://10.0.0.1:7651",
    })
    .unwrap()
    .id
}

fn content(st: &mut Store, id: &str, name: &str, targets: Targets) {
    let hashes: Vec<u8> = (0..64u8).collect();
    st.register_content(
        &NewContent {
            id,
            name,
            version: "1.0",
            arch: "",
            path: &format!("pkgs/{name}.msi"),
            size: 3 << 20,
            mtime: 7,
            piece_size: 2 << 20,
            piece_hashes: &hashes,
        },
        targets,
    )
    .unwrap();
}

fn office(name: &str, parent: Option<&str>, ranges: &[&str]) -> NewOffice {
    NewOffice {
        name: name.into(),
        parent: parent.map(str::to_string),
        kind: OfficeKind::Default,
        wan_kbps: Some(1000),
        description: format!("{name} office"),
        source: "import".into(),
        ranges: ranges.iter().map(|r| r.to_string()).collect(),
    }
}

both!(server_settings_and_key, |st: &mut Store| {
    st.init_server("sid", "fp1", &[("port", "7650".to_string())])
        .unwrap();
    let s = st.server().unwrap().unwrap();
    assert_eq!((s.server_id.as_str(), s.key_version), ("sid", 1));
    let g0 = st.fleet_generation().unwrap();
    st.set_setting("port", "7651").unwrap();
    st.set_setting("heartbeat_secs", "5").unwrap();
    assert!(
        st.fleet_generation().unwrap() > g0,
        "settings bump the generation"
    );
    assert_eq!(st.setting("port").unwrap().as_deref(), Some("7651"));
    assert_eq!(st.setting("nope").unwrap(), None);
    assert_eq!(
        st.settings().unwrap(),
        [
            ("heartbeat_secs".to_string(), "5".to_string()),
            ("port".to_string(), "7651".to_string())
        ]
    );
    let (v, old) = st
        .rotate_key("fp2", |_, _| Ok::<_, StoreError>(()))
        .unwrap();
    assert_eq!((v, old.as_str()), (2, "fp1"));
    // A failing persist rolls the database back.
    let err = st.rotate_key("fp3", |_, _| {
        Err::<(), _>(StoreError::BadUrl { url: "x".into() })
    });
    assert!(err.is_err());
    assert_eq!(st.server().unwrap().unwrap().key_fingerprint, "fp2");
    assert_eq!(st.retired_fingerprints().unwrap(), [(1, "fp1".to_string())]);
    assert_eq!(st.integrity_check().unwrap(), "ok");
    st.set_admin_token_sha256("abc").unwrap();
    st.set_admin_token_sha256("def").unwrap();
    assert_eq!(st.admin_token_sha256().unwrap().as_deref(), Some("def"));
});

both!(groups_contents_and_licenses, |st: &mut Store| {
    // Content ids are SHA-256 hex: what the store hands out is typed.
    let (a, b) = (
        format!("aa11{}", "0".repeat(60)),
        format!("bb22{}", "0".repeat(60)),
    );
    let added = st
        .assign_groups(&["lab".into(), "Ops".into(), "lab".into()])
        .unwrap();
    assert_eq!(added, ["lab", "Ops"]);
    content(st, &a, "all", Targets::AllAssigned);
    content(st, &b, "pinned", Targets::Only(&["lab".to_string()]));
    st.assign_groups(&["new".into()]).unwrap();
    let c = st.content(&a).unwrap().unwrap();
    assert_eq!(
        c.summary.targets,
        ["Ops", "lab", "new"],
        "byte order, as SQLite"
    );
    assert!(c.summary.all_groups);
    assert_eq!(c.piece_hash(1).unwrap()[0], 32);
    assert_eq!(c.summary.pieces, 2);
    let p = st.content(&b).unwrap().unwrap();
    assert_eq!(p.summary.targets, ["lab"]);
    assert!(!p.summary.all_groups);
    let all = st.content_summaries().unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].seq < all[1].seq, "registration order");
    assert_eq!(
        st.content_ids_with_prefix("bb", 5).unwrap(),
        std::slice::from_ref(&b)
    );
    assert!(st.is_targeted(&b, "lab").unwrap());
    assert!(!st.is_targeted(&b, "new").unwrap());
    assert_eq!(st.targeted_contents("lab").unwrap().len(), 2);
    let m = st.manifest(&a).unwrap().unwrap();
    assert_eq!((m.file_name.as_str(), m.pieces.len()), ("all.msi", 2));
    assert_eq!(
        st.targeted_size_by_path("pkgs/pinned.msi", "lab").unwrap(),
        Some(3 << 20)
    );

    enroll(st, "b-host", "10.0.0.2", "lab");
    enroll(st, "B-host", "10.0.0.3", "Ops");
    enroll(st, "a-host", "10.0.0.4", "lab");
    let hosts = |st: &Store| -> Vec<String> {
        let licenses = st.licenses().unwrap();
        licenses.into_iter().map(|l| l.device.hostname).collect()
    };
    assert_eq!(hosts(st), ["B-host", "a-host", "b-host"]);
    let groups = st.groups().unwrap();
    let lab = groups.iter().find(|g| g.name == "lab").unwrap();
    assert_eq!((lab.devices, lab.licenses, lab.contents), (2, 2, 2));
    let report = st.unassign_groups(&["lab".into()]).unwrap().unwrap();
    assert_eq!((report.devices, report.licenses_released), (2, 2));
    assert_eq!(hosts(st), ["B-host"], "licenses follow assigned groups");
    assert_eq!(
        st.unassign_groups(&["ghost".into()]).unwrap().unwrap_err(),
        ["ghost"]
    );
    assert_eq!(st.delete_contents(std::slice::from_ref(&b)).unwrap(), 1);
    assert_eq!(st.counts().unwrap().contents, 1);
});

both!(devices_states_and_credit, |st: &mut Store| {
    st.assign_groups(&["lab".into()]).unwrap();
    content(st, "cc33", "app", Targets::AllAssigned);
    let a = enroll(st, "a", "10.0.0.1", "lab");
    let b = enroll(st, "b", "10.0.0.2", "lab");
    // Re-enrolling keeps the id and counts no heartbeat (design note `key-holders`: only a
    // heartbeat shows a device came back; see `UNCONFIRMED_SECS`).
    let again = st
        .enroll_device(&Enrollment {
            device_id: Some(&a),
            hostname: "a2",
            addr: "10.0.0.9",
            prefix_len: 16,
            group: "lab",
            version: "0.2.0",
            peer_url: "",
        })
        .unwrap();
    assert_eq!((again.id.as_str(), again.heartbeats), (a.as_str(), 1));
    assert!(st.heartbeat(&a).unwrap());
    assert!(!st.heartbeat("nobody").unwrap());
    st.set_clock_offset(&b, -900).unwrap();
    assert_eq!(st.clock_offsets_over(300).unwrap()[0].2, -900);
    let stuck = |r: &str| ("cc33".to_string(), r.to_string());
    st.set_stuck(&a, &[stuck("disk full")]).unwrap();
    st.set_stuck(&a, &[stuck("disk full")]).unwrap();
    assert_eq!(st.stuck().unwrap().len(), 1);
    st.set_stuck(&a, &[]).unwrap();
    assert!(st.stuck().unwrap().is_empty());
    assert!(st.record_key_refusal(&b, "oldfp").unwrap());
    assert!(st.record_key_refusal(&b, "oldfp").unwrap());
    assert!(!st.record_key_refusal("nobody", "oldfp").unwrap());
    assert!(st.set_preference(&b, Preference::Excluded).unwrap());
    assert_eq!(
        st.device(&b).unwrap().unwrap().preference,
        Preference::Excluded
    );
    // Credit is the smaller of claimed and received, saturating.
    st.claim_uploads(&a, "cc33", 10, 1000).unwrap();
    assert_eq!(st.device(&a).unwrap().unwrap().uploads_ok, 0);
    st.receive_uploads(&a, "cc33", 4, 400).unwrap();
    let d = st.device(&a).unwrap().unwrap();
    assert_eq!((d.uploads_ok, d.upload_bytes), (4, 400));
    st.claim_uploads(&a, "cc33", 1, u64::MAX).unwrap();
    st.receive_uploads(&a, "cc33", 1, u64::MAX).unwrap();
    st.receive_uploads(&a, "cc33", 1, u64::MAX).unwrap();
    assert_eq!(st.device(&a).unwrap().unwrap().upload_bytes, i64::MAX);
    st.add_failure(&a).unwrap();
    assert_eq!(st.find_devices("a2").unwrap(), std::slice::from_ref(&a));
    assert!(st.retire_device(&a).unwrap());
    assert!(st.device(&a).unwrap().is_none());
});

// A report counts once per sequence number (design note
// `faults-and-churn`): the same number again (a retry after a lost
// answer) and an older one are acknowledged without counting; a count
// that fails leaves the number unapplied, so its retry counts; 0 (an
// agent before sequence numbers) counts every time; a retired device's
// number stays.
both!(
    a_report_counts_once_per_sequence_number,
    |st: &mut Store| {
        st.assign_groups(&["lab".into()]).unwrap();
        content(st, "dd44", "app", Targets::AllAssigned);
        let a = enroll(st, "a", "10.0.0.1", "lab");
        let server_bytes = |st: &Store| {
            st.tier_bytes("dd44")
                .unwrap()
                .iter()
                .map(|(_, b)| b.server)
                .sum::<u64>()
        };
        let report = |st: &mut Store, seq: u64| {
            st.report_once(&a, seq, |st| {
                let t = Transfer {
                    content_id: "dd44",
                    tier: "server",
                    source_device: None,
                    bytes: 100,
                    pieces: 1,
                    ok: true,
                };
                st.record_transfer(&t, &a, None)
            })
            .unwrap()
        };
        assert_eq!(st.report_seq(&a).unwrap(), None);
        assert!(report(st, 7));
        assert!(!report(st, 7), "the same number twice counts once");
        assert!(!report(st, 3), "an older number is not counted");
        assert_eq!(server_bytes(st), 100);
        assert_eq!(st.report_seq(&a).unwrap(), Some(7));
        // A count that fails half-way lands nothing, and its number stays
        // unapplied: the retry counts.
        let failed = st.report_once(&a, 8, |st| {
            st.record_transfer(
                &Transfer {
                    content_id: "dd44",
                    tier: "server",
                    source_device: None,
                    bytes: 100,
                    pieces: 1,
                    ok: true,
                },
                &a,
                None,
            )?;
            Err::<(), StoreError>(StoreError::from(DbError::NoRows))
        });
        assert!(failed.is_err());
        assert_eq!(server_bytes(st), 100, "the failed count was rolled back");
        assert_eq!(st.report_seq(&a).unwrap(), Some(7));
        assert!(report(st, 8));
        assert_eq!(server_bytes(st), 200);
        assert!(
            report(st, 0) && report(st, 0),
            "unnumbered: counted each time"
        );
        assert_eq!(server_bytes(st), 400);
        assert_eq!(st.report_seq(&a).unwrap(), Some(8));
        assert!(st.retire_device(&a).unwrap());
        assert_eq!(st.report_seq(&a).unwrap(), Some(8), "kept when retired");
    }
);

both!(topology_replace_and_rollback, |st: &mut Store| {
    st.atomically(|s| {
        s.replace_topology(&[
            office("HQ", None, &["10.0.0.0/16"]),
            office("Branch", Some("HQ"), &["10.1.0.0/24", "10.1.1.0-10.1.1.9"]),
        ])
    })
    .unwrap();
    let hq = st.office_by_name("HQ").unwrap().unwrap();
    let details = st.office_details().unwrap();
    assert_eq!(details[1].ranges, ["10.1.0.0/24", "10.1.1.0-10.1.1.9"]);
    assert_eq!(details[1].row.parent_id, Some(hq.id));
    // Re-import keeps ids of known names, drops the rest, adds new ones.
    st.atomically(|s| {
        s.replace_topology(&[
            office("Branch", None, &["10.1.0.0/24"]),
            office("Lab", Some("Branch"), &[]),
        ])
    })
    .unwrap();
    let names: Vec<String> = st.offices().unwrap().into_iter().map(|o| o.name).collect();
    assert_eq!(names, ["Branch", "Lab"]);
    assert!(st.office_by_name("HQ").unwrap().is_none());
    let root = st.root_office().unwrap().unwrap();
    assert_eq!(root.name, "Branch");
    let id = st
        .create_office(
            &NewOffice {
                source: "auto".into(),
                ..office("auto 10.9.0.0/24", None, &["10.9.0.0/24"])
            },
            Some(root.id),
        )
        .unwrap();
    assert!(id > root.id);
    assert_eq!(st.office_ranges().unwrap().len(), 2);
    st.insert_test_device("d1", "10.9.0.5", 24, Some(id))
        .unwrap();
    assert_eq!(st.device_counts().unwrap()[&id], 1);
    assert_eq!(st.delete_auto_offices().unwrap(), 1);
    assert_eq!(st.device("d1").unwrap().unwrap().office_id, None);
    // An error inside `atomically` leaves nothing behind.
    let r: Result<(), StoreError> = st.atomically(|s| {
        s.replace_topology(&[office("Only", None, &[])])?;
        Err(StoreError::BadUrl { url: "x".into() })
    });
    assert!(r.is_err());
    assert!(st.office_by_name("Only").unwrap().is_none());
    assert!(st.office_by_name("Lab").unwrap().is_some());
});

// Design note `fleet-scale`: an import's diff is made before its transaction; applying it
// writes only what changes, and a diff made stale by another admin write
// is refused (nothing written) so that it is made again.
both!(
    topology_diff_writes_only_changes_and_a_stale_diff_is_refused,
    |st: &mut Store| {
        let sheet = [
            office("HQ", None, &["10.0.0.0/16"]),
            office("Branch", Some("HQ"), &["10.1.0.0/24"]),
        ];
        st.atomically(|s| s.replace_topology(&sheet)).unwrap();
        let hq = st.office_by_name("HQ").unwrap().unwrap().id;
        let branch = st.office_by_name("Branch").unwrap().unwrap().id;
        // The same sheet again: nothing to write, the generation stays.
        let diff = st.diff_topology(&sheet).unwrap();
        assert_eq!(diff.counts(), (0, 0, 0));
        let before = st.fleet_generation().unwrap();
        let ids = st.atomically(|s| s.apply_topology(&sheet, &diff)).unwrap();
        assert_eq!(ids, Some(vec![hq, branch]));
        assert_eq!(st.fleet_generation().unwrap(), before);
        // Parents swapped, a range changed, one office added, none removed.
        let next = [
            office("Branch", None, &["10.1.0.0/23"]),
            office("HQ", Some("Branch"), &["10.0.0.0/16"]),
            office("Lab", Some("HQ"), &["10.2.0.0/24"]),
        ];
        let diff = st.diff_topology(&next).unwrap();
        assert_eq!(diff.counts(), (1, 2, 0));
        // Another admin write in between: refused, nothing written.
        st.set_setting("heartbeat_secs", "9").unwrap();
        assert_eq!(
            st.atomically(|s| s.apply_topology(&next, &diff)).unwrap(),
            None
        );
        assert!(st.office_by_name("Lab").unwrap().is_none());
        let diff = st.diff_topology(&next).unwrap();
        let ids = st
            .atomically(|s| s.apply_topology(&next, &diff))
            .unwrap()
            .unwrap();
        assert_eq!(&ids[..2], &[branch, hq]);
        let rows = st.office_details().unwrap();
        let by: std::collections::HashMap<&str, &crate::store::topology::OfficeDetail> =
            rows.iter().map(|d| (d.row.name.as_str(), d)).collect();
        assert_eq!(by["Branch"].row.parent_id, None);
        assert_eq!(by["Branch"].ranges, ["10.1.0.0/23"]);
        assert_eq!(by["HQ"].row.parent_id, Some(branch));
        assert_eq!(by["Lab"].row.parent_id, Some(hq));
        let order: Vec<String> = st.offices().unwrap().into_iter().map(|o| o.name).collect();
        assert_eq!(order, ["Branch", "HQ", "Lab"]);
        // Removing a parent with its child: both go.
        let last = [office("Branch", None, &[])];
        let diff = st.diff_topology(&last).unwrap();
        assert_eq!(diff.counts(), (0, 1, 2));
        st.atomically(|s| s.apply_topology(&last, &diff))
            .unwrap()
            .unwrap();
        assert_eq!(st.offices().unwrap().len(), 1);
        assert!(st.office_ranges().unwrap().is_empty());
    }
);

both!(distribution_progress_leaders_bans, |st: &mut Store| {
    st.assign_groups(&["lab".into()]).unwrap();
    content(st, "dd44", "app", Targets::AllAssigned);
    st.atomically(|s| s.replace_topology(&[office("HQ", None, &["10.0.0.0/8"])]))
        .unwrap();
    let hq = st.office_by_name("HQ").unwrap().unwrap().id;
    let a = enroll(st, "a", "10.0.0.1", "lab");
    let b = enroll(st, "b", "10.0.0.2", "lab");
    let c = enroll(st, "c", "10.0.0.3", "lab");
    st.set_device_office(&a, Some(hq)).unwrap();
    st.set_device_office(&b, Some(hq)).unwrap();
    st.start_progress("dd44", &a).unwrap();
    st.start_progress("dd44", &a).unwrap();
    let prog = |pieces, done, bytes, blocked| ProgressUpdate {
        pieces,
        done,
        bytes,
        blocked,
    };
    st.record_progress("dd44", &a, &prog(1, false, 100, true))
        .unwrap();
    st.record_progress("dd44", &a, &prog(2, true, 50, false))
        .unwrap();
    st.record_done_ms("dd44", &a, Some(1)).unwrap();
    st.record_progress("dd44", &b, &prog(1, false, 10, false))
        .unwrap();
    let rows = st.progress("dd44").unwrap();
    let ra = rows.iter().find(|r| r.device_id == a).unwrap();
    assert_eq!((ra.pieces, ra.bytes), (2, 100), "bytes never go back");
    assert!(ra.done_at.is_some() && ra.blocked_at.is_none());
    assert_eq!(
        ra.done_ms, ra.started_ms,
        "a claim before the start is bounded"
    );
    assert_eq!(st.office_done_held("dd44", Some(hq)).unwrap(), (2, 1, 3));
    assert_eq!(st.office_done_held("dd44", None).unwrap(), (1, 0, 0));
    assert_eq!(st.content_done("dd44").unwrap(), (3, 1, 3));
    // Leaders: each change starts a new term.
    let l1 = st.set_leader("dd44", hq, &a).unwrap();
    let l2 = st.set_leader("dd44", hq, &b).unwrap();
    assert_eq!((l1.epoch, l2.epoch), (1, 2));
    assert_eq!(st.leader("dd44", hq).unwrap().as_deref(), Some(b.as_str()));
    assert_eq!(st.leader_lease("dd44", hq).unwrap().unwrap(), l2);
    assert_eq!(st.led_by(&b).unwrap(), [("dd44".to_string(), hq)]);
    // Bans need two witnesses, never the accused.
    assert!(!st.ban("dd44", &c, &c, 0).unwrap());
    assert!(!st.ban("dd44", &c, &a, 0).unwrap());
    assert!(!st.ban("dd44", &c, &a, 1).unwrap());
    assert!(st.ban("dd44", &c, &b, 0).unwrap());
    assert!(!st.ban("dd44", &c, &b, 2).unwrap(), "already banned");
    assert!(st.banned("dd44").unwrap().contains(&c));
    assert_eq!(st.ban_count().unwrap(), 1);
    assert_eq!(st.device_trail(&c, "dd44").unwrap().bans.len(), 1);
    assert_eq!(st.unban(&c).unwrap(), 1);
    assert!(st.banned_anywhere().unwrap().is_empty());
    // Transfers and the per-office byte counts.
    let tr = |tier, bytes, ok| Transfer {
        content_id: "dd44",
        tier,
        source_device: None,
        bytes,
        pieces: 1,
        ok,
    };
    st.record_transfer(&tr("server", 3 << 20, true), &a, Some(hq))
        .unwrap();
    st.record_transfer(&tr("lan", 3 << 20, true), &b, Some(hq))
        .unwrap();
    st.record_transfer(&tr("lan", 5, false), &b, Some(hq))
        .unwrap();
    st.record_transfer(&tr("cdn", 7, true), &c, None).unwrap();
    let tb = st.tier_bytes("dd44").unwrap();
    let hq_bytes = &tb.iter().find(|(o, _)| *o == Some(hq)).unwrap().1;
    assert_eq!(
        (hq_bytes.server, hq_bytes.lan, hq_bytes.failed),
        (3 << 20, 3 << 20, 5)
    );
    let mut wan = st.wan_bytes("dd44").unwrap();
    wan.sort();
    assert_eq!(
        wan,
        [(None, None, 7), (Some(hq), Some("HQ".to_string()), 3 << 20)]
    );
    let by = st.bytes_by_office_tier().unwrap();
    assert_eq!(by[0], (None, "cdn".to_string(), 7), "no office first");
    assert_eq!(
        st.transfer_span("dd44").unwrap().map(|(a, b)| a <= b),
        Some(true)
    );
    let series = st.bytes_series("dd44", 60).unwrap();
    assert_eq!(series.iter().map(|s| s.2).sum::<u64>(), (6 << 20) + 7);
    assert_eq!(st.active_contents(0).unwrap().len(), 1);
    assert_eq!(st.targeted_devices("dd44").unwrap().len(), 3);
});

both!(observe_pages_and_decisions, |st: &mut Store| {
    st.assign_groups(&["lab".into()]).unwrap();
    content(st, "ee55", "app", Targets::AllAssigned);
    st.atomically(|s| {
        s.replace_topology(&[
            office("HQ", None, &[]),
            office("Branch One", Some("HQ"), &[]),
            office("Branch Two", Some("HQ"), &[]),
        ])
    })
    .unwrap();
    let hq = st.office_by_name("HQ").unwrap().unwrap().id;
    let a = enroll(st, "alpha", "10.0.0.1", "lab");
    enroll(st, "beta", "10.0.0.2", "lab");
    st.set_device_office(&a, Some(hq)).unwrap();
    let (n, roots) = st.offices_page(Some(None), None, 10, 0).unwrap();
    assert_eq!((n, roots[0].name.as_str(), roots[0].children), (1, "HQ", 2));
    let (n, kids) = st.offices_page(Some(Some(hq)), None, 1, 1).unwrap();
    assert_eq!((n, kids.len(), kids[0].name.as_str()), (2, 1, "Branch Two"));
    assert_eq!(st.offices_page(None, Some("branch"), 10, 0).unwrap().0, 2);
    assert_eq!(
        st.offices_page(None, None, 10, 0).unwrap().0,
        3,
        "no filter: all"
    );
    assert_eq!(st.devices_page(None, 10, 0).unwrap().0, 2);
    let (n, page) = st.devices_page(Some("ALP"), 10, 0).unwrap();
    assert_eq!((n, page[0].office.as_deref()), (1, Some("HQ")));
    assert_eq!(st.devices_page(Some("hq"), 10, 0).unwrap().0, 1);
    let counts = st.devices_by_office_version(0).unwrap();
    assert_eq!(counts[0].office, None, "no office first");
    assert_eq!((counts[1].enrolled, counts[1].online), (1, 1));
    let d = |kind: &str, office: Option<i64>| DecisionRow {
        at: 5,
        content_id: "ee55".into(),
        device_id: a.clone(),
        office_id: office,
        kind: kind.into(),
        role: String::new(),
        leader: Some(a.clone()),
        previous: None,
        tiers: "server".into(),
        reason: "why".into(),
    };
    st.record_decision(&d("election", None)).unwrap();
    st.record_decision(&d("failover", None)).unwrap();
    st.record_decision(&d("election", Some(hq))).unwrap();
    st.record_decision(&d("sources", Some(hq))).unwrap();
    assert_eq!(st.office_elections("ee55", None).unwrap().len(), 2);
    assert_eq!(st.office_elections("ee55", Some(hq)).unwrap().len(), 1);
    assert_eq!(st.election_counts().unwrap(), (2, 1));
    assert_eq!(
        st.last_decision(&a, "ee55").unwrap().unwrap(),
        d("sources", Some(hq))
    );
    assert_eq!(st.device_trail(&a, "ee55").unwrap().decisions.len(), 1);
    assert_eq!(st.find_contents("app 1.0").unwrap(), ["ee55"]);
    assert_eq!(st.find_contents("ee55").unwrap(), ["ee55"]);
});

both!(replicas_and_sealed_key, |st: &mut Store| {
    st.replica_heartbeat("r1", "http://127.0.0.1:1", "h", 1)
        .unwrap();
    st.replica_heartbeat("r2", "http://127.0.0.1:2", "h", 1)
        .unwrap();
    st.replica_heartbeat("r1", "http://127.0.0.1:3", "h", 1)
        .unwrap();
    let r = st.replicas().unwrap();
    assert_eq!(r.len(), 2);
    assert!(r.iter().any(|r| r.url.ends_with(":3")));
    st.remove_replica("r1", 3600).unwrap();
    assert_eq!(st.replicas().unwrap().len(), 1);
    assert_eq!(st.sealed_key().unwrap(), None);
    st.set_sealed_key(2, &[1, 2, 3]).unwrap();
    st.set_sealed_key(3, &[4, 5]).unwrap();
    assert_eq!(st.sealed_key().unwrap(), Some((3, vec![4, 5])));
});

/// Two replicas electing a leader for the same office at the same moment
/// (two connections, each reading the current leader and, finding none,
/// writing its own after a pause that widens the race): with the election
/// lock the second sees the first's leader and keeps it, one term at
/// epoch 1. Without it both would write, and the office would have had
/// two leaders (epoch 2).
#[test]
fn elections_on_two_connections_do_not_race_postgres() {
    let url = testing::database_url();
    let loc = Location::Postgres(url);
    let mut st = Store::open_location(&loc, true).unwrap();
    st.assign_groups(&["lab".into()]).unwrap();
    content(&mut st, "ab12", "app", Targets::AllAssigned);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let threads: Vec<_> = ["dev-a", "dev-b"]
        .into_iter()
        .map(|me| {
            let (loc, barrier) = (loc.clone(), barrier.clone());
            std::thread::spawn(move || {
                let st = Store::open_location(&loc, false).unwrap();
                barrier.wait();
                st.for_content_exclusively("ab12", |st| {
                    if let Some(l) = st.leader_lease("ab12", 7)? {
                        return Ok(l);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(300));
                    st.set_leader("ab12", 7, me)
                })
                .unwrap()
            })
        })
        .collect();
    let terms: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(terms[0], terms[1], "both replicas answer the same leader");
    assert_eq!(terms[0].epoch, 1, "one election, not two");
    assert_eq!(st.leader_lease("ab12", 7).unwrap().unwrap(), terms[0]);
}

/// Two serve replicas given the same report at once (an agent's retry after
/// a timeout, sent to the other replica while the first still works on it)
/// count it once: the second waits on the first's sequence row and finds
/// it moved. Two connections to one PostgreSQL database.
#[test]
fn the_same_report_at_two_replicas_at_once_counts_once_postgres() {
    let loc = Location::Postgres(testing::database_url());
    let mut a = Store::open_location(&loc, true).unwrap();
    a.assign_groups(&["lab".into()]).unwrap();
    content(&mut a, "ee55", "app", Targets::AllAssigned);
    let dev = enroll(&mut a, "a", "10.0.0.1", "lab");
    let t = Transfer {
        content_id: "ee55",
        tier: "server",
        source_device: None,
        bytes: 100,
        pieces: 1,
        ok: true,
    };
    let mut other = None;
    let first = a
        .report_once(&dev, 9, |st| {
            // The first is open, its number moved, while the second runs
            // until it waits on a lock; then the first commits.
            let mut b = Store::open_location(&loc, false).unwrap();
            let d = dev.clone();
            other = Some(std::thread::spawn(move || {
                b.report_once(&d, 9, |st| st.record_transfer(&t, &d, None))
                    .unwrap()
            }));
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let waiting: i64 = st
                    .conn
                    .query_one(
                        "SELECT COUNT(*) FROM pg_stat_activity
                         WHERE datname = current_database() AND wait_event_type = 'Lock'",
                        (),
                    )
                    .unwrap();
                if waiting > 0 {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "the second report never waited for the first"
                );
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            st.record_transfer(&t, &dev, None)
        })
        .unwrap();
    let second = other.unwrap().join().unwrap();
    assert!(
        first && !second,
        "counted by the first only: {first} {second}"
    );
    let bytes: u64 = a
        .tier_bytes("ee55")
        .unwrap()
        .iter()
        .map(|(_, b)| b.server)
        .sum();
    assert_eq!(bytes, 100);
}

/// serve keeps one connection for its life: when the server drops it (a
/// PostgreSQL restart), the next call reconnects instead of failing
/// forever.
#[test]
fn reconnects_after_the_server_drops_the_connection_postgres() {
    let loc = Location::Postgres(testing::database_url());
    let st = Store::open_location(&loc, true).unwrap();
    st.set_setting("port", "1").unwrap();
    let pid: i64 = st.conn.query_one("SELECT pg_backend_pid()", ()).unwrap();
    let other = Store::open_location(&loc, false).unwrap();
    let killed: bool = other
        .conn
        .query_one("SELECT pg_terminate_backend(CAST(?1 AS INTEGER))", [pid])
        .unwrap();
    assert!(killed);
    // The client may learn of the close on this call or the next one.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if let Ok(v) = st.setting("port") {
            assert_eq!(v.as_deref(), Some("1"));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never reconnected");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let again: i64 = st.conn.query_one("SELECT pg_backend_pid()", ()).unwrap();
    assert_ne!(again, pid, "a new connection");
}

/// A populated SQLite install copied into PostgreSQL (and back) keeps
/// every row: the reports read the same.
#[test]
fn copy_sqlite_to_postgres_and_back() {
    let mut src = sqlite();
    let st = &mut src.store;
    st.init_server("sid", "fp", &[("port", "7650".into())])
        .unwrap();
    st.assign_groups(&["lab".into()]).unwrap();
    content(st, "ff66", "app", Targets::AllAssigned);
    // Children before parents in id order: the copy must not trip on it.
    st.atomically(|s| {
        s.replace_topology(&[office("Branch", None, &["10.1.0.0/24"])])?;
        s.replace_topology(&[
            office("HQ", None, &["10.0.0.0/16"]),
            office("Branch", Some("HQ"), &["10.1.0.0/24"]),
        ])
    })
    .unwrap();
    let a = enroll(st, "a", "10.1.0.1", "lab");
    st.set_device_office(&a, st.office_by_name("Branch").unwrap().map(|o| o.id))
        .unwrap();
    st.set_leader("ff66", 1, &a).unwrap();
    st.record_decision(&DecisionRow {
        at: 1,
        content_id: "ff66".into(),
        device_id: a.clone(),
        office_id: None,
        kind: "election".into(),
        role: String::new(),
        leader: None,
        previous: None,
        tiers: String::new(),
        reason: "r".into(),
    })
    .unwrap();
    let pg = postgres();
    let report = copy::copy(&src.store, &pg.store).unwrap();
    assert!(report.iter().any(|t| t.table == "offices" && t.rows == 2));
    let summary = |s: &Store| {
        (
            format!("{:?}", s.office_details().unwrap()),
            format!("{:?}", s.licenses().unwrap()),
            format!("{:?}", s.content_summaries().unwrap()),
            format!("{:?}", s.settings().unwrap()),
        )
    };
    assert_eq!(summary(&src.store), summary(&pg.store));
    // New rows after the copy get fresh ids (sequences moved past).
    let id = pg
        .store
        .create_office(&office("New", None, &[]), None)
        .unwrap();
    assert!(id > 2);
    // A second copy into a non-empty database changes nothing.
    let again = copy::copy(&src.store, &pg.store);
    assert!(matches!(again, Err(copy::CopyError::NotEmpty { .. })));
    // And back into a fresh SQLite.
    let back = sqlite();
    copy::copy(&pg.store, &back.store).unwrap();
    assert_eq!(
        summary(&back.store).1,
        summary(&src.store).1,
        "licenses round-trip"
    );
}

// Design note `replicas`: the server CA row: stored once (the first of two replicas
// moving their files wins), the key bytes kept exactly.
both!(server_ca_is_stored_once, |st: &mut Store| {
    assert_eq!(st.server_ca().unwrap(), None);
    let first = replicas::CaRow {
        cert_pem: "-----BEGIN CERTIFICATE-----\nA\n".into(),
        key: vec![2, 0, 255, 128, 7],
        sealed: true,
    };
    assert!(st.add_server_ca(&first).unwrap());
    let second = replicas::CaRow {
        cert_pem: "-----BEGIN CERTIFICATE-----\nB\n".into(),
        key: b"pem".to_vec(),
        sealed: false,
    };
    assert!(!st.add_server_ca(&second).unwrap());
    assert_eq!(st.server_ca().unwrap(), Some(first));
});

// A failing item of a batch (a device whose heartbeat hits a database
// error) leaves the others in place, and none of its own writes: the same
// on both backends (a PostgreSQL transaction is otherwise aborted whole).
both!(a_failing_batch_item_keeps_the_others, |st: &mut Store| {
    let answers = st
        .batch(|st| {
            (0..5)
                .map(|i| {
                    st.item(|st| {
                        st.conn.execute(
                            "INSERT INTO settings (name, value) VALUES (?1, 'x')",
                            params![format!("batch_{i}")],
                        )?;
                        if i == 1 || i == 4 {
                            st.conn
                                .execute("INSERT INTO no_such_table VALUES (1)", ())?;
                        }
                        Ok::<_, StoreError>(i)
                    })
                })
                .collect::<Vec<_>>()
        })
        .unwrap();
    let ok: Vec<bool> = answers.iter().map(Result::is_ok).collect();
    assert_eq!(ok, [true, false, true, true, false]);
    let have = |n: &str| st.setting(n).unwrap().is_some();
    assert!(have("batch_0"), "the item before the failure");
    assert!(!have("batch_1"), "the failed item's first write");
    assert!(
        have("batch_2") && have("batch_3"),
        "the items after the failure"
    );
    assert!(!have("batch_4"), "the last item, failed");
    // Outside a batch an item is just its closure.
    st.item(|st| st.set_setting("alone", "1")).unwrap();
    assert!(have("alone"));
});

/// Every folder of `store/migrations/` is a step of [`super::MIGRATIONS`],
/// in the order of its number, numbered 1 to N without a gap: the order
/// the schema history was applied in is the order a reader sees.
#[test]
fn migrations_are_the_numbered_folders_in_order() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/migrations");
    let mut folders: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    folders.sort();
    let names: Vec<&str> = super::MIGRATIONS.iter().map(|m| m.name).collect();
    assert_eq!(folders, names);
    for (i, n) in names.iter().enumerate() {
        assert_eq!(n[..4].parse::<usize>().ok(), Some(i + 1), "{n}");
        assert_eq!(&n[4..5], "_", "{n}");
    }
    assert_eq!(super::SCHEMA_VERSION, names.len() as i64);
}
