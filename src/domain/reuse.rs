//! How prompts repeat across requests: a shared system prompt, documents shared by groups of
//! requests, a fixed pool of prompts cycled as load testers do, and conversations whose every
//! turn sends the history back. What a request's prompt is made of ([`Content`]) is what an
//! engine's prefix cache reuses.
//!
//! A prompt is `[system prompt] [group document] body`: the body is a prompt of the pool, or
//! the request's own tokens (drawn from the class's prompt-token distribution, as without
//! reuse). In a conversation, the first turn's body is the user's first message and every later
//! turn's prompt is the previous prompt, the previous answer and the new message.

use std::rc::Rc;

use super::distribution::Dist;
use super::prompt::{Content, Segment, kind, segment_id};
use crate::sim::SimRng;
use rand::RngExt;

/// How a pool's prompts are picked.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PoolOrder {
    /// In order, starting over after the last (as load testers cycle a data set).
    Cycle,
    /// Uniformly at random, with replacement.
    Random,
}

/// A fixed pool of distinct prompts, reused.
#[derive(Clone, Debug, PartialEq)]
pub struct PromptPool {
    /// Distinct prompts.
    pub size: u32,
    /// How they are picked.
    pub order: PoolOrder,
}

/// Documents shared by groups of requests (few-shot templates, RAG documents).
#[derive(Clone, Debug, PartialEq)]
pub struct PrefixGroups {
    /// Share of requests that start with a group's document, 0 to 1.
    pub share: f64,
    /// Distinct documents; a request picks one uniformly.
    pub groups: u32,
    /// Tokens of each document.
    pub tokens: u32,
}

/// Multi-turn sessions: each turn's prompt is the history so far and a new message.
#[derive(Clone, Debug)]
pub struct Conversation {
    /// Turns per session (rounded, at least 1).
    pub turns: Dist,
    /// Time between an answer and the user's next message, seconds.
    pub think: Dist,
    /// Tokens of each user message; `None`: the class's prompt-token distribution.
    pub user_tokens: Option<Dist>,
}

/// How one class's prompts repeat. The default repeats nothing.
#[derive(Clone, Debug, Default)]
pub struct Reuse {
    /// System prompt variants: tokens and share of requests (shares sum to 1); empty: none.
    pub system: Vec<(u32, f64)>,
    /// Shared documents.
    pub groups: Option<PrefixGroups>,
    /// A fixed pool of prompts as the body.
    pub pool: Option<PromptPool>,
    /// Conversations: requests are the turns of sessions.
    pub conversation: Option<Conversation>,
}

impl Reuse {
    /// Whether any part of the prompts repeats (else requests carry no content).
    pub fn is_some(&self) -> bool {
        !self.system.is_empty()
            || self.groups.is_some()
            || self.pool.is_some()
            || self.conversation.is_some()
    }
}

/// A prompt made by [`Prompts`]: its tokens, what they are made of, and the id its answer's
/// tokens go by.
#[derive(Clone, Debug)]
pub struct Made {
    /// Prompt tokens.
    pub tokens: u32,
    /// Its runs.
    pub content: Content,
    /// The answer's id.
    pub answer: u64,
}

/// Where a class's pool stands: the next prompt in order and the lengths of its prompts.
#[derive(Clone, Debug)]
struct PoolState {
    next: u32,
    /// Body tokens of each prompt, drawn once.
    lengths: Vec<u32>,
}

/// Makes the prompts of every class from their [`Reuse`], drawing from its own streams so that
/// workloads without reuse draw exactly what they drew before.
#[derive(Debug)]
pub struct Prompts {
    pools: Vec<Option<PoolState>>,
    /// Picks variants, groups and random pool prompts.
    rng: SimRng,
    /// Requests made so far: names the tokens of each request's own body.
    made: u64,
}

fn sample_tokens(dist: &Dist, rng: &mut SimRng, min: f64) -> u32 {
    dist.sample(rng).round().max(min).min(f64::from(u32::MAX)) as u32
}

fn push(segments: &mut Vec<Segment>, id: u64, len: u32) {
    if len > 0 {
        segments.push(Segment { id, len });
    }
}

/// The runs of a first prompt (system prompt, document, body): at most three, kept on the
/// stack so that a prompt costs one allocation, its shared [`Content`].
#[derive(Default)]
struct Head {
    runs: [Segment; 3],
    n: usize,
}

impl Head {
    fn push(&mut self, id: u64, len: u32) {
        if len > 0 {
            self.runs[self.n] = Segment { id, len };
            self.n += 1;
        }
    }

    fn made(&self, answer: u64) -> Made {
        let runs = &self.runs[..self.n];
        Made {
            tokens: runs.iter().map(|s| s.len).sum(),
            content: Rc::from(runs),
            answer,
        }
    }
}

impl Prompts {
    /// The prompt makers of classes whose reuse and prompt-token distributions are `classes`;
    /// pool lengths are drawn from `pool_rng`, choices from `rng`.
    pub fn new<'d>(
        classes: impl Iterator<Item = (&'d Reuse, &'d Dist)>,
        mut pool_rng: SimRng,
        rng: SimRng,
    ) -> Self {
        let pools = classes
            .map(|(reuse, prompt)| {
                reuse.pool.as_ref().map(|p| PoolState {
                    next: 0,
                    lengths: (0..p.size)
                        .map(|_| sample_tokens(prompt, &mut pool_rng, 0.0))
                        .collect(),
                })
            })
            .collect();
        Prompts {
            pools,
            rng,
            made: 0,
        }
    }

    /// The shared head of a new prompt of class `class`: system prompt and group document.
    fn head(&mut self, class: u16, reuse: &Reuse, segments: &mut Head) {
        let c = u64::from(class);
        if !reuse.system.is_empty() {
            let v = if reuse.system.len() == 1 {
                0
            } else {
                let u: f64 = self.rng.random();
                let mut acc = 0.0;
                reuse
                    .system
                    .iter()
                    .position(|&(_, share)| {
                        acc += share;
                        u < acc
                    })
                    .unwrap_or(reuse.system.len() - 1)
            };
            segments.push(segment_id(kind::SYSTEM, c, v as u64), reuse.system[v].0);
        }
        if let Some(g) = &reuse.groups {
            let u: f64 = self.rng.random();
            if u < g.share {
                let which = self.rng.random_range(0..g.groups.max(1));
                segments.push(segment_id(kind::GROUP, c, u64::from(which)), g.tokens);
            }
        }
    }

    /// A new prompt of class `class` (not a later conversation turn), whose own body would be
    /// `own` tokens (drawn by the caller from the class's distribution).
    pub fn first(&mut self, class: u16, reuse: &Reuse, own: u32) -> Made {
        self.made += 1;
        let mut segments = Head::default();
        self.head(class, reuse, &mut segments);
        let c = u64::from(class);
        match (&reuse.pool, self.pools[usize::from(class)].as_mut()) {
            (Some(pool), Some(state)) if reuse.conversation.is_none() => {
                let k = match pool.order {
                    PoolOrder::Cycle => {
                        let k = state.next;
                        state.next = (state.next + 1) % pool.size.max(1);
                        k
                    }
                    PoolOrder::Random => self.rng.random_range(0..pool.size.max(1)),
                };
                segments.push(
                    segment_id(kind::POOL, c, u64::from(k)),
                    state.lengths[k as usize],
                );
            }
            _ => segments.push(segment_id(kind::UNIQUE, self.made, 0), own),
        }
        segments.made(segment_id(kind::ANSWER, self.made, 0))
    }

    /// Turn `turn` (from 1) of session `session`: the previous prompt `before`, its answer
    /// (`answer` id, `answered` tokens) and a new message of `own` tokens.
    pub fn next_turn(
        &mut self,
        session: u64,
        turn: u32,
        before: &Made,
        answered: u32,
        own: u32,
    ) -> Made {
        self.made += 1;
        let mut segments = Vec::with_capacity(before.content.len() + 2);
        segments.extend_from_slice(&before.content);
        push(&mut segments, before.answer, answered);
        push(
            &mut segments,
            segment_id(kind::USER, session, u64::from(turn)),
            own,
        );
        let tokens = segments.iter().map(|s| s.len).sum();
        Made {
            tokens,
            content: Rc::from(segments),
            answer: segment_id(kind::ANSWER, session, u64::from(turn) + 1),
        }
    }

    /// A conversation's first turn: the shared head and the first message of `own` tokens.
    pub fn first_turn(&mut self, class: u16, reuse: &Reuse, session: u64, own: u32) -> Made {
        self.made += 1;
        let mut segments = Head::default();
        self.head(class, reuse, &mut segments);
        segments.push(segment_id(kind::USER, session, 0), own);
        segments.made(segment_id(kind::ANSWER, session, 1))
    }
}

/// A conversation under way.
#[derive(Clone, Debug)]
struct Session {
    class: u16,
    /// Its number, naming its messages.
    key: u64,
    /// Turns sent so far, and in all.
    sent: u32,
    turns: u32,
    /// The closed-loop user running it, if any.
    user: Option<u32>,
    /// The last turn's prompt, and its answer's tokens.
    last: Made,
    answered: u32,
}

/// The prompts of a workload with reuse, and its conversations under way.
#[derive(Debug)]
pub struct Sessions {
    prompts: Prompts,
    live: super::slab::Slab<Session>,
    made: u64,
    /// Turn counts and think times.
    rng: SimRng,
    /// The conversations of a replayed trace: each one's last prompt and its answer's tokens.
    traced: std::collections::HashMap<u64, (Made, u32)>,
}

/// A prompt for a new request, and the conversation it belongs to.
#[derive(Clone, Debug)]
pub struct Turn {
    /// The prompt.
    pub made: Made,
    /// Its session, for conversations.
    pub session: Option<super::request::RequestId>,
}

impl Sessions {
    /// Sessions over `prompts`, drawing turn counts and think times from `rng`.
    pub fn new(prompts: Prompts, rng: SimRng) -> Self {
        Sessions {
            prompts,
            live: super::slab::Slab::default(),
            made: 0,
            rng,
            traced: std::collections::HashMap::new(),
        }
    }

    /// The prompt of a replayed trace row of conversation `conversation` with `prompt` tokens
    /// and an answer of `output` tokens: the conversation's previous row (prompt and answer)
    /// and then new tokens, when the row is long enough to hold them; else a prompt of its own
    /// (the history was cut, or the trace's turns do not nest).
    pub fn traced(&mut self, conversation: u64, prompt: u32, output: u32) -> Made {
        self.made += 1;
        let turn = self.made;
        let mut segments = Vec::new();
        match self.traced.get(&conversation) {
            Some((last, answered))
                if u64::from(prompt) >= u64::from(last.tokens) + u64::from(*answered) =>
            {
                segments.extend_from_slice(&last.content);
                push(&mut segments, last.answer, *answered);
                push(
                    &mut segments,
                    segment_id(kind::USER, conversation, turn),
                    prompt - last.tokens - answered,
                );
            }
            _ => push(
                &mut segments,
                segment_id(kind::USER, conversation, turn),
                prompt,
            ),
        }
        let made = Made {
            tokens: prompt,
            content: Rc::from(segments),
            answer: segment_id(kind::ANSWER, conversation, turn),
        };
        self.traced.insert(conversation, (made.clone(), output));
        made
    }

    /// The prompt of a new request of class `class` (a new session's first turn, for
    /// conversations) whose own tokens are `own`, sent by closed-loop user `user` if any.
    pub fn start(&mut self, class: u16, reuse: &Reuse, own: u32, user: Option<u32>) -> Turn {
        let Some(conv) = &reuse.conversation else {
            return Turn {
                made: self.prompts.first(class, reuse, own),
                session: None,
            };
        };
        self.made += 1;
        let key = self.made;
        let turns = conv.turns.sample(&mut self.rng).round().max(1.0) as u32;
        let made = self.prompts.first_turn(class, reuse, key, own);
        let id = self.live.insert(Session {
            class,
            key,
            sent: 1,
            turns,
            user,
            last: made.clone(),
            answered: 0,
        });
        Turn {
            made,
            session: Some(id),
        }
    }

    /// A turn of `session` ended; `answered`: with an answer of that many tokens. Returns the
    /// think time before the next turn, or `None` when the session is over (all turns sent, or
    /// a turn failed: the user leaves), with the user who ran it.
    pub fn ended(
        &mut self,
        session: super::request::RequestId,
        conv: &Conversation,
        answered: Option<u32>,
    ) -> Result<crate::sim::SimDuration, Option<u32>> {
        let s = self.live.get_mut(session);
        match answered {
            Some(tokens) if s.sent < s.turns => {
                s.answered = tokens;
                Ok(conv.think.sample_duration(&mut self.rng))
            }
            _ => {
                let user = s.user;
                self.live.remove(session);
                Err(user)
            }
        }
    }

    /// The closed-loop user running `session`, if any.
    pub fn user(&self, session: super::request::RequestId) -> Option<u32> {
        self.live.get(session).user
    }

    /// The class of `session`.
    pub fn class(&self, session: super::request::RequestId) -> u16 {
        self.live.get(session).class
    }

    /// Whether `session` is under way.
    pub fn is_live(&self, session: super::request::RequestId) -> bool {
        self.live.is_current(session)
    }

    /// The next turn of `session`, with a new message of `own` tokens.
    pub fn next(&mut self, session: super::request::RequestId, own: u32) -> Turn {
        let s = self.live.get_mut(session);
        let made = self
            .prompts
            .next_turn(s.key, s.sent, &s.last, s.answered, own);
        s.sent += 1;
        s.last = made.clone();
        Turn {
            made,
            session: Some(session),
        }
    }

    /// The session ends early (no more requests may be sent); returns its user.
    pub fn stop(&mut self, session: super::request::RequestId) -> Option<u32> {
        let user = self.live.get(session).user;
        self.live.remove(session);
        user
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::RngStreams;

    fn prompts(reuse: &Reuse) -> Prompts {
        let dist = Dist::Deterministic { value: 100.0 };
        let s = RngStreams::new(7);
        Prompts::new(
            std::iter::once((reuse, &dist)),
            s.stream("pool"),
            s.stream("reuse"),
        )
    }

    #[test]
    fn a_cycled_pool_repeats_its_prompts_in_order_after_a_shared_system_prompt() {
        let reuse = Reuse {
            system: vec![(500, 1.0)],
            pool: Some(PromptPool {
                size: 3,
                order: PoolOrder::Cycle,
            }),
            ..Reuse::default()
        };
        let mut p = prompts(&reuse);
        let made: Vec<Made> = (0..4).map(|_| p.first(0, &reuse, 9)).collect();
        assert_eq!(made[0].tokens, 600);
        assert_eq!(made[0].content[0], made[1].content[0]);
        assert_ne!(made[0].content[1], made[1].content[1]);
        assert_eq!(made[0].content[..], made[3].content[..]);
        assert_ne!(made[0].answer, made[3].answer);
    }

    #[test]
    fn a_session_sends_its_turns_and_ends_after_the_last_or_a_failure() {
        let conv = Conversation {
            turns: Dist::Deterministic { value: 3.0 },
            think: Dist::Deterministic { value: 2.0 },
            user_tokens: None,
        };
        let reuse = Reuse {
            conversation: Some(conv.clone()),
            ..Reuse::default()
        };
        let s = RngStreams::new(1);
        let mut sessions = Sessions::new(prompts(&reuse), s.stream("conversations"));
        let t1 = sessions.start(0, &reuse, 50, Some(4));
        let sid = t1.session.expect("a session");
        assert!(sessions.ended(sid, &conv, Some(20)).is_ok());
        let t2 = sessions.next(sid, 10);
        assert_eq!(t2.made.tokens, 50 + 20 + 10);
        assert!(sessions.ended(sid, &conv, Some(5)).is_ok());
        let t3 = sessions.next(sid, 10);
        assert_eq!(t3.made.tokens, 80 + 5 + 10);
        assert_eq!(sessions.ended(sid, &conv, Some(5)), Err(Some(4)));
        assert!(!sessions.is_live(sid));
        let t = sessions.start(0, &reuse, 50, None);
        let sid = t.session.expect("a session");
        assert_eq!(sessions.ended(sid, &conv, None), Err(None));
    }

    #[test]
    fn a_turn_sends_back_the_previous_prompt_and_answer_and_a_new_message() {
        let reuse = Reuse::default();
        let mut p = prompts(&reuse);
        let t1 = p.first_turn(0, &reuse, 5, 40);
        let t2 = p.next_turn(5, 1, &t1, 70, 30);
        assert_eq!(t2.tokens, t1.tokens + 70 + 30);
        assert_eq!(t2.content[..t1.content.len()], t1.content[..]);
        assert_eq!(
            t2.content[t1.content.len()],
            Segment {
                id: t1.answer,
                len: 70
            }
        );
        let t3 = p.next_turn(5, 2, &t2, 10, 20);
        assert_eq!(t3.tokens, t2.tokens + 10 + 20);
        assert_ne!(t3.answer, t2.answer);
    }
}
