//! Session retry back-off (TR-069 §3.2.1.1, notes §3.5) and the agent's seeded random
//! numbers.
//!
//! With m = `CWMPRetryMinimumWaitInterval` (seconds) and k = `CWMPRetryIntervalMultiplier`
//! (thousandths), retry number n (1-based, capped at 10) waits a uniformly random time in
//! `[m·(k/1000)^(n−1), m·(k/1000)^n]`: 5–10 s, 10–20 s, ... 2560–5120 s with the defaults.
//! Randomisation is the point (no thundering herd after an ACS outage), so the fixed
//! midpoints some stacks use are not imitated.

use serde::{Deserialize, Serialize};

/// Retries from the tenth on wait as long as the tenth (TR-069 §3.2.1.1 table).
pub const MAX_RETRY_EXPONENT: u32 = 10;

/// Default `CWMPRetryMinimumWaitInterval` (TR-181: "a value of 5 corresponds to the default
/// behavior").
pub const DEFAULT_MIN_WAIT: u32 = 5;

/// Default `CWMPRetryIntervalMultiplier` (TR-181: 2000).
pub const DEFAULT_MULTIPLIER: u32 = 2000;

/// Bounds in milliseconds of the wait before retry number `retry_count` (1-based; 0 reads
/// as 1, anything above 10 as 10). `min_wait` is clamped to its TR-181 range 1..=65535 and
/// `multiplier` to 1000..=65535; the result saturates instead of overflowing.
pub fn wait_bounds_millis(retry_count: u32, min_wait: u32, multiplier: u32) -> (u64, u64) {
    let n = retry_count.clamp(1, MAX_RETRY_EXPONENT);
    let m = u128::from(min_wait.clamp(1, 65535));
    let k = u128::from(multiplier.clamp(1000, 65535));
    // In milliseconds, multiplying step by step: (65535 * 1000) * 65.535^10 still fits in
    // u128 (about 9e25), so nothing saturates before the final conversion.
    let mut low = m * 1000;
    for _ in 1..n {
        low = low * k / 1000;
    }
    let high = low * k / 1000;
    let clamp = |v: u128| u64::try_from(v).unwrap_or(u64::MAX);
    (clamp(low), clamp(high))
}

/// Bounds in whole seconds of the wait before retry number `retry_count` (see
/// [`wait_bounds_millis`]): the lower bound rounded down, the upper one rounded up, so that
/// the default table of notes §3.5 reads `(5, 10)`, `(10, 20)`, ... `(2560, 5120)`.
pub fn wait_bounds(retry_count: u32, min_wait: u32, multiplier: u32) -> (u64, u64) {
    let (low, high) = wait_bounds_millis(retry_count, min_wait, multiplier);
    (low / 1000, high.div_ceil(1000))
}

/// SplitMix64: small, fast, and its whole state is one `u64`, so runs repeat exactly
/// from [`crate::agent::AgentConfig::seed`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `low..=high` (`low` when the range is empty).
    pub(crate) fn between(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        let span = high - low;
        match span.checked_add(1) {
            Some(n) => low + self.next_u64() % n,
            None => self.next_u64(),
        }
    }
}

/// A random wait in milliseconds for retry number `retry_count`.
pub(crate) fn random_wait_millis(
    rng: &mut Rng,
    retry_count: u32,
    min_wait: u32,
    multiplier: u32,
) -> u64 {
    let (low, high) = wait_bounds_millis(retry_count, min_wait, multiplier);
    rng.between(low, high)
}

#[cfg(test)]
mod tests {
    use super::{Rng, random_wait_millis, wait_bounds, wait_bounds_millis};
    use proptest::prelude::{any, prop_assert, prop_assert_eq, proptest};

    /// The table of notes §3.5 (TR-069 §3.2.1.1) with the defaults m = 5, k = 2000.
    #[test]
    fn default_table() {
        let table = [
            (1, 5, 10),
            (2, 10, 20),
            (3, 20, 40),
            (4, 40, 80),
            (5, 80, 160),
            (6, 160, 320),
            (7, 320, 640),
            (8, 640, 1280),
            (9, 1280, 2560),
            (10, 2560, 5120),
            (11, 2560, 5120),
            (1000, 2560, 5120),
        ];
        for (n, low, high) in table {
            assert_eq!(wait_bounds(n, 5, 2000), (low, high), "retry {n}");
        }
        // Retry count 0 (the first attempt failing) waits like retry 1.
        assert_eq!(wait_bounds(0, 5, 2000), (5, 10));
    }

    /// The example of notes §3.5: m = 10, k = 1500 gives 10–15, 15–22.5, 22.5–33.8, ...
    /// 384.4–576.7.
    #[test]
    fn example_m10_k1500() {
        assert_eq!(wait_bounds_millis(1, 10, 1500), (10_000, 15_000));
        assert_eq!(wait_bounds_millis(2, 10, 1500), (15_000, 22_500));
        assert_eq!(wait_bounds_millis(3, 10, 1500), (22_500, 33_750));
        let (low, high) = wait_bounds_millis(10, 10, 1500);
        assert_eq!(low / 100, 3844);
        assert_eq!(high / 100, 5766);
        assert_eq!(wait_bounds(2, 10, 1500), (15, 23));
    }

    #[test]
    fn out_of_range_settings_are_clamped() {
        assert_eq!(wait_bounds(1, 0, 0), (1, 1));
        assert_eq!(wait_bounds(3, 1, 1000), (1, 1));
        // The largest settings do not overflow.
        let (low, high) = wait_bounds_millis(10, 65535, 65535);
        assert!(low <= high);
        assert_eq!(high, u64::MAX);
    }

    #[test]
    fn rng_is_repeatable_and_bounded() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut r = Rng::new(1);
        for _ in 0..1000 {
            let v = r.between(10, 20);
            assert!((10..=20).contains(&v));
        }
        assert_eq!(r.between(5, 5), 5);
        assert_eq!(r.between(9, 3), 9);
        let _ = r.between(0, u64::MAX);
    }

    proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 512,
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// Every wait lies within the bounds, the bounds are ordered and grow with the
        /// retry count, and nothing overflows, whatever the settings.
        #[test]
        fn waits_stay_within_bounds(
            n in 0u32..50,
            m in any::<u32>(),
            k in any::<u32>(),
            seed in any::<u64>(),
        ) {
            let (low, high) = wait_bounds_millis(n, m, k);
            prop_assert!(low <= high);
            let (next_low, next_high) = wait_bounds_millis(n.saturating_add(1), m, k);
            prop_assert!(next_low >= low && next_high >= high);
            let mut rng = Rng::new(seed);
            let w = random_wait_millis(&mut rng, n, m, k);
            prop_assert!((low..=high).contains(&w));
            let (low_s, high_s) = wait_bounds(n, m, k);
            prop_assert!(low_s * 1000 <= low && high <= high_s.saturating_mul(1000));
            // With in-range settings the upper bound is exactly k/1000 times the lower one.
            if (1..=65535).contains(&m) && (1000..=65535).contains(&k) && high < u64::MAX {
                prop_assert_eq!(u128::from(high), u128::from(low) * u128::from(k) / 1000);
            }
        }
    }
}
