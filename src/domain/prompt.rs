//! What a prompt is made of, for prefix caching: runs of tokens named by what they are (a
//! system prompt, a prompt of a reused pool, a document of a prefix group, the turns of a
//! conversation so far, tokens no other request has). Two prompts share a prefix exactly when
//! their runs agree from the start; an engine with a prefix cache reuses the KV blocks of that
//! prefix. Token values themselves are never simulated.

use std::rc::Rc;

/// A run of prompt tokens: the same `id` and `len` are the same tokens.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Segment {
    /// What the tokens are (a hash of their origin; see [`segment_id`]).
    pub id: u64,
    /// How many tokens.
    pub len: u32,
}

/// A prompt's runs in order; their lengths sum to the prompt's tokens. Shared between a request,
/// its attempts and a conversation's next turn, so it is never copied per attempt.
pub type Content = Rc<[Segment]>;

/// The id of a run of tokens named by `kind` (what it is: system prompt, pool prompt, ...) and
/// two numbers (e.g. class and variant, or session and turn). Mixing is SplitMix64's finaliser,
/// so ids of different origins do not collide in practice.
pub fn segment_id(kind: u64, a: u64, b: u64) -> u64 {
    let mut x = kind
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(a.rotate_left(21))
        .wrapping_add(b.wrapping_mul(0xD6E8_FEB8_6659_FD93));
    x ^= x >> 30;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Kinds of runs, for [`segment_id`].
pub mod kind {
    /// A shared system prompt: (class, variant).
    pub const SYSTEM: u64 = 1;
    /// A prompt of a reused pool: (class, index in the pool).
    pub const POOL: u64 = 2;
    /// The shared document of a prefix group: (class, group).
    pub const GROUP: u64 = 3;
    /// Tokens of one request only: (request number, 0).
    pub const UNIQUE: u64 = 4;
    /// A user's message in a conversation: (session, turn).
    pub const USER: u64 = 5;
    /// An answer, which a conversation's next turn sends back: (session or request, turn).
    pub const ANSWER: u64 = 6;
    /// A prefix named by a replayed trace (a hash column): (hash, 0).
    pub const TRACE: u64 = 7;
}

/// The first `tokens` tokens of `content` (a prompt clipped to the model's context): the run
/// cut short gets its own length, so it matches only a run cut at the same place.
pub fn clip(content: &[Segment], tokens: u32) -> Vec<Segment> {
    let mut out = Vec::with_capacity(content.len());
    let mut left = tokens;
    for s in content {
        if left == 0 {
            break;
        }
        let len = s.len.min(left);
        out.push(Segment { id: s.id, len });
        left -= len;
    }
    out
}

/// Tokens in `content`.
pub fn tokens(content: &[Segment]) -> u64 {
    content.iter().map(|s| u64::from(s.len)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_different_origins_differ_and_the_same_origin_gives_the_same_id() {
        let a = segment_id(kind::SYSTEM, 0, 0);
        assert_eq!(a, segment_id(kind::SYSTEM, 0, 0));
        assert_ne!(a, segment_id(kind::SYSTEM, 0, 1));
        assert_ne!(a, segment_id(kind::POOL, 0, 0));
        assert_ne!(segment_id(kind::USER, 1, 2), segment_id(kind::USER, 2, 1));
    }

    #[test]
    fn clipping_cuts_the_last_run_and_drops_the_rest() {
        let c = [Segment { id: 1, len: 10 }, Segment { id: 2, len: 5 }];
        assert_eq!(
            clip(&c, 12),
            vec![Segment { id: 1, len: 10 }, Segment { id: 2, len: 2 }]
        );
        assert_eq!(clip(&c, 10), vec![Segment { id: 1, len: 10 }]);
        assert_eq!(tokens(&clip(&c, 99)), 15);
    }
}
