//! Simulation time as integer nanoseconds.
//!
//! Floats on the clock make event order depend on rounding, so the engine keeps time as a `u64`
//! count of nanoseconds (about 584 years of range) and converts to seconds only when reporting.
//! Arithmetic saturates instead of wrapping or panicking: `SimTime::MAX` means "never", and a
//! timer scheduled past it simply never fires.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// Nanoseconds in one second.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;

/// An instant on the simulation clock, in nanoseconds since the start of the run.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(u64);

/// A span of simulation time, in nanoseconds.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// The end of time; also used for "never".
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// An instant `nanos` nanoseconds after the start.
    pub const fn from_nanos(nanos: u64) -> Self {
        SimTime(nanos)
    }

    /// Nanoseconds since the start.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds since the start, for reporting.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// Time elapsed since `earlier`, or zero if `earlier` is later than `self`.
    pub const fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);
    /// The longest representable span; used for "unlimited".
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    /// A span of `nanos` nanoseconds.
    pub const fn from_nanos(nanos: u64) -> Self {
        SimDuration(nanos)
    }

    /// A span of whole seconds (saturating).
    pub const fn from_secs(secs: u64) -> Self {
        SimDuration(secs.saturating_mul(NANOS_PER_SEC))
    }

    /// A span of whole milliseconds (saturating).
    pub const fn from_millis(millis: u64) -> Self {
        SimDuration(millis.saturating_mul(1_000_000))
    }

    /// The span closest to `secs` seconds, rounded to the nearest nanosecond.
    ///
    /// Returns `None` for negative, NaN or infinite input and for spans too long to represent,
    /// so that callers decide what such a value means instead of getting a silent clamp.
    pub fn try_from_secs_f64(secs: f64) -> Option<Self> {
        if !secs.is_finite() || secs < 0.0 {
            return None;
        }
        let nanos = secs * NANOS_PER_SEC as f64;
        // Rounding cannot carry a value below 2^64 up to it (doubles there lie 2048 apart), so
        // the range is checked before rounding.
        if nanos >= u64::MAX as f64 {
            return None;
        }
        Some(SimDuration(round_half_away(nanos)))
    }

    /// The span closest to `secs` seconds; negative or NaN input gives zero and overflow
    /// saturates. Use this for sampled values, which validated distributions keep in range.
    #[inline]
    pub fn from_secs_f64_saturating(secs: f64) -> Self {
        if secs.is_nan() || secs <= 0.0 {
            return SimDuration::ZERO;
        }
        let nanos = secs * NANOS_PER_SEC as f64;
        // Every sampled duration comes through here: below 2^63 ns (292 years) the signed
        // conversions, single instructions, round exactly as `round_half_away` does.
        if nanos < 9_223_372_036_854_775_808.0 {
            let whole = nanos as i64;
            let up = nanos - whole as f64 >= 0.5;
            return SimDuration(whole as u64 + u64::from(up));
        }
        Self::try_from_secs_f64(secs).unwrap_or(SimDuration::MAX)
    }

    /// Length in nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Length in seconds, for reporting.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// Whether this span is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

/// `x.round() as u64` for `0 <= x < 2^64` (NaN gives 0), without the call `f64::round` makes on
/// targets without a rounding instruction: every sampled duration goes through here. The
/// truncation is exact, and so is the fraction it leaves (below 2^53 both share `x`'s bits;
/// above, `x` is whole and the fraction zero), so halves round away from zero exactly as
/// `round` does.
#[inline]
fn round_half_away(x: f64) -> u64 {
    let whole = x as u64;
    if x - whole as f64 >= 0.5 {
        whole + 1
    } else {
        whole
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, rhs: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, rhs: SimDuration) {
        *self = *self + rhs;
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    /// Saturates at zero: a negative span is never meaningful on a monotonic clock.
    fn sub(self, rhs: SimTime) -> SimDuration {
        self.saturating_since(rhs)
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, rhs: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for SimDuration {
    fn add_assign(&mut self, rhs: SimDuration) {
        *self = *self + rhs;
    }
}

/// Shows a span in the largest unit that keeps it readable, e.g. `1.5s`, `250ms`, `2h`.
impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 6] = [
            (86_400 * NANOS_PER_SEC, "d"),
            (3_600 * NANOS_PER_SEC, "h"),
            (60 * NANOS_PER_SEC, "m"),
            (NANOS_PER_SEC, "s"),
            (1_000_000, "ms"),
            (1_000, "us"),
        ];
        if self.0 == 0 {
            return f.write_str("0s");
        }
        for (size, unit) in UNITS {
            if self.0 >= size {
                let value = self.0 as f64 / size as f64;
                // Four significant digits is enough to recognise the figure the user wrote.
                let text = format!("{value:.3}");
                let text = text.trim_end_matches('0').trim_end_matches('.');
                return write!(f, "{text}{unit}");
            }
        }
        write!(f, "{}ns", self.0)
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={}", SimDuration(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_to_the_nearest_nanosecond() {
        assert_eq!(
            SimDuration::try_from_secs_f64(1.5),
            Some(SimDuration::from_millis(1500))
        );
        assert_eq!(SimDuration::try_from_secs_f64(1e-9).unwrap().as_nanos(), 1);
        assert_eq!(SimDuration::try_from_secs_f64(-1.0), None);
        assert_eq!(SimDuration::try_from_secs_f64(f64::NAN), None);
        assert_eq!(SimDuration::try_from_secs_f64(1e20), None);
    }

    #[test]
    fn halves_round_away_from_zero_and_near_halves_do_not() {
        assert_eq!(round_half_away(0.5), 1);
        assert_eq!(round_half_away(2.5), 3);
        assert_eq!(round_half_away(0.499_999_999_999_999_94), 0);
        assert_eq!(round_half_away(-0.0), 0);
        assert_eq!(round_half_away(f64::NAN), 0);
        assert_eq!(
            round_half_away(9_007_199_254_740_993.0),
            9_007_199_254_740_992
        );
        assert_eq!(
            round_half_away(18_446_744_073_709_549_568.0),
            u64::MAX - 2047
        );
    }

    proptest::proptest! {
        #[test]
        fn rounding_agrees_with_f64_round(bits in 0u64..0x43F0_0000_0000_0000) {
            // Every non-negative double below 2^64, by its bit pattern.
            let x = f64::from_bits(bits);
            proptest::prop_assert_eq!(round_half_away(x), x.round() as u64);
        }

        #[test]
        fn sampled_durations_round_like_f64_round(bits in 0u64..0x7FF0_0000_0000_0000) {
            // Every positive finite number of seconds, by its bit pattern.
            let secs = f64::from_bits(bits);
            let nanos = secs * 1e9;
            let expected = if nanos >= u64::MAX as f64 { u64::MAX } else { nanos.round() as u64 };
            proptest::prop_assert_eq!(SimDuration::from_secs_f64_saturating(secs).as_nanos(), expected);
        }

        #[test]
        fn sampled_durations_of_everyday_lengths_round_like_f64_round(secs in 0.0f64..1e5) {
            let expected = (secs * 1e9).round() as u64;
            proptest::prop_assert_eq!(SimDuration::from_secs_f64_saturating(secs).as_nanos(), expected);
        }

        #[test]
        fn rounding_agrees_with_f64_round_on_small_fractions(whole in 0u64..1 << 40, frac in 0.0f64..1.0) {
            let x = whole as f64 + frac;
            proptest::prop_assert_eq!(round_half_away(x), x.round() as u64);
        }
    }

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        assert_eq!(SimTime::MAX + SimDuration::from_secs(1), SimTime::MAX);
        assert_eq!(SimTime::ZERO - SimTime::from_nanos(5), SimDuration::ZERO);
    }

    #[test]
    fn durations_display_in_a_readable_unit() {
        assert_eq!(SimDuration::from_millis(1500).to_string(), "1.5s");
        assert_eq!(SimDuration::from_millis(250).to_string(), "250ms");
        assert_eq!(SimDuration::from_secs(7200).to_string(), "2h");
        assert_eq!(SimDuration::ZERO.to_string(), "0s");
        assert_eq!(SimDuration::from_nanos(12).to_string(), "12ns");
    }
}
