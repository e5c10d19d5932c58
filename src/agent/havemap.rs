//! Have-map exchange, bounded per device (design note `fleet-scale`): long-polled instead
//! of polled.
//!
//! A downloading device learns which pieces its sources hold from their
//! have-maps (`GET /v1/pieces/{id}/have`). It asks only its current
//! sources (the bounded peer set `/sources` returned, at most 32, plus the
//! parent-office peers for a leader), and instead of asking each one every
//! 300 ms it long-polls: the request says how many pieces the asker knows
//! of (`since=N`) and how long it may wait (`wait_ms`, at most
//! [`MAX_WAIT`]); the peer answers at once when it holds a different number
//! of pieces, else as soon as one arrives, else when the wait is over. The
//! asker sends the next poll when the answer comes, but never sooner than
//! [`MIN_SPACING`] after the previous one to the same peer.
//!
//! So a peer that gains no pieces costs one request per [`WAIT`] per asker
//! (3.3 per second before), and one that gains pieces quickly is asked at
//! most every [`MIN_SPACING`], as before. A peer that does not know the
//! parameters (an older agent) answers at once, which the spacing turns
//! into the old 300 ms polling: nothing breaks in a mixed fleet.

use std::time::Duration;

use super::pieces::Content;
use crate::domain::Bitmap;
use crate::wire::proto::HaveMap;

/// How long the asker lets a peer hold a poll.
pub const WAIT: Duration = Duration::from_secs(5);

/// Longest wait a peer grants, whatever is asked.
pub const MAX_WAIT: Duration = Duration::from_secs(10);

/// Shortest time between two polls of one peer by one asker.
pub const MIN_SPACING: Duration = Duration::from_millis(300);

/// The asker's timeout for one poll: the wait plus room for the answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(8);

/// Pieces set in a have-map.
pub fn count(map: &Bitmap) -> u32 {
    map.as_bytes().iter().map(|b| b.count_ones()).sum()
}

/// The long-poll URL for `content` at the peer `base` (device `peer`),
/// knowing `since` of its pieces (`None`: nothing known, answer at once).
pub fn url(base: &str, content: &str, peer: &str, since: Option<u32>) -> String {
    let base = base.trim_end_matches('/');
    match since {
        // `peer=` binds the signature to the device asked: another agent
        // refuses the same signed request.
        Some(n) => format!(
            "{base}/v1/pieces/{content}/have?peer={peer}&since={n}&wait_ms={}",
            WAIT.as_millis()
        ),
        None => format!("{base}/v1/pieces/{content}/have?peer={peer}"),
    }
}

/// How long a peer holds a poll that asked for `wait_ms` knowing `since`
/// pieces, when it holds `count`: zero when the asker knows nothing or
/// something else than what is there.
pub fn hold(since: Option<u32>, wait_ms: Option<u64>, count: u32) -> Duration {
    match (since, wait_ms) {
        (Some(n), Some(ms)) if n == count => Duration::from_millis(ms).min(MAX_WAIT),
        _ => Duration::ZERO,
    }
}

/// The peer's side: the have-map of `c`, once it differs from what the
/// asker knows or the wait is over.
pub async fn answer(c: &Content, since: Option<u32>, wait_ms: Option<u64>) -> HaveMap {
    let deadline = tokio::time::Instant::now() + hold(since, wait_ms, c.count());
    loop {
        // Registered before the count is read: a piece arriving in
        // between still wakes this poll.
        let arrived = c.arrival();
        tokio::pin!(arrived);
        arrived.as_mut().enable();
        if hold(since, wait_ms, c.count()).is_zero()
            || tokio::time::timeout_at(deadline, arrived).await.is_err()
        {
            return c.have_map();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poll_is_held_only_while_the_asker_is_up_to_date() {
        assert_eq!(hold(Some(3), Some(5000), 3), Duration::from_secs(5));
        assert_eq!(hold(Some(3), Some(5000), 4), Duration::ZERO);
        assert_eq!(hold(None, Some(5000), 0), Duration::ZERO);
        assert_eq!(hold(Some(0), None, 0), Duration::ZERO);
        assert_eq!(hold(Some(0), Some(3_600_000), 0), MAX_WAIT);
    }

    #[test]
    fn the_url_carries_what_the_asker_knows() {
        assert_eq!(
            url("https://p:1/", "c", "d", Some(7)),
            "https://p:1/v1/pieces/c/have?peer=d&since=7&wait_ms=5000"
        );
        assert_eq!(
            url("https://p:1", "c", "d", None),
            "https://p:1/v1/pieces/c/have?peer=d"
        );
        let mut m = Bitmap::empty(20);
        for i in [0, 3, 19] {
            m.set(i);
        }
        assert_eq!(count(&m), 3);
    }

    /// A peer holds an up-to-date asker's poll until a piece arrives, and
    /// answers an asker that knows something else at once.
    #[tokio::test(flavor = "current_thread")]
    async fn a_poll_returns_when_a_piece_arrives() {
        use sha2::{Digest, Sha256};
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..4096u32).map(|i| (i * 13) as u8).collect();
        let m = crate::wire::proto::Manifest {
            id: crate::domain::ContentId(Sha256::digest(&data).into()),
            name: "t".into(),
            version: "1".into(),
            file_name: "t.bin".into(),
            path: "t/1/t.bin".into(),
            size: data.len() as u64,
            piece_size: 1024,
            pieces: data
                .chunks(1024)
                .map(|c| crate::domain::PieceHash(Sha256::digest(c).into()))
                .collect(),
        };
        let store = super::super::pieces::PieceStore::new(dir.path().to_path_buf()).unwrap();
        let c = store.open(&m).unwrap();
        // Knowing 5 pieces when there are 0: answered at once.
        assert_eq!(answer(&c, Some(5), Some(60_000)).await.pieces, 0);
        let waiting = {
            let c = c.clone();
            tokio::spawn(async move { answer(&c, Some(0), Some(60_000)).await })
        };
        // On this one-thread runtime the poll runs until it parks.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(
            !waiting.is_finished(),
            "an up-to-date poll was answered at once"
        );
        assert!(c.write_piece(2, &data[2048..3072]).unwrap());
        let got = waiting.await.unwrap();
        assert_eq!(got.pieces, 1);
        assert!(got.bitmap().unwrap().has(2));
    }
}
