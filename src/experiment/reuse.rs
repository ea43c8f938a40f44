//! Prompt reuse in the workload and per class: `system-prompt`, `prompt-pool`,
//! `prefix-groups` and `conversation` (see `domain::reuse`).

use super::file::{
    ConversationFile, GroupsFile, PoolFile, Scalar, SystemPromptFile, ThinkFile, TurnsFile,
};
use super::read::{Ctx, dist};
use crate::domain::Dist;
use crate::domain::reuse::{Conversation, PoolOrder, PrefixGroups, PromptPool, Reuse};
use crate::error::ConfigError;

/// Most tokens one shared run may have (a system prompt, a document).
const MAX_TOKENS: i64 = 1 << 20;

/// The reuse keys of one table (`workload` or a `classes` entry).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct ReuseKeys<'a> {
    /// `system-prompt`.
    pub(super) system: Option<&'a SystemPromptFile>,
    /// `prompt-pool`.
    pub(super) pool: Option<&'a PoolFile>,
    /// `prefix-groups`.
    pub(super) groups: Option<&'a GroupsFile>,
    /// `conversation`.
    pub(super) conversation: Option<&'a ConversationFile>,
}

impl<'a> ReuseKeys<'a> {
    /// Whether any key is set.
    pub(super) fn any(&self) -> bool {
        self.system.is_some()
            || self.pool.is_some()
            || self.groups.is_some()
            || self.conversation.is_some()
    }

    /// Each key of `self`, else of `base` (a class's keys over the workload's).
    pub(super) fn over(self, base: ReuseKeys<'a>) -> ReuseKeys<'a> {
        ReuseKeys {
            system: self.system.or(base.system),
            pool: self.pool.or(base.pool),
            groups: self.groups.or(base.groups),
            conversation: self.conversation.or(base.conversation),
        }
    }
}

fn tokens_in(ctx: &Ctx<'_>, key: &str, v: i64) -> Result<u32, ConfigError> {
    if (1..=MAX_TOKENS).contains(&v) {
        Ok(v as u32)
    } else {
        Err(ctx.error(
            key,
            format!("must be a token count from 1 to {MAX_TOKENS}, found {v}"),
        ))
    }
}

fn share_in(ctx: &Ctx<'_>, key: &str, v: f64) -> Result<f64, ConfigError> {
    if v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        Err(ctx.error(key, format!("must be more than 0 and at most 1, found {v}")))
    }
}

/// The reuse of a table whose keys are `keys`, read under `table` (`workload`, or a class
/// key such as `classes[1]`, naming where each key was written: `written`).
pub(crate) fn reuse(
    ctx: &Ctx<'_>,
    keys: ReuseKeys<'_>,
    written: &dyn Fn(&str) -> String,
) -> Result<Reuse, ConfigError> {
    let mut out = Reuse::default();
    if let Some(s) = keys.system {
        let key = written("system-prompt");
        out.system = match s {
            SystemPromptFile::Tokens(t) => vec![(tokens_in(ctx, &key, *t)?, 1.0)],
            SystemPromptFile::Variants(list) => {
                if list.is_empty() || list.len() > 64 {
                    return Err(ctx.error(
                        &key,
                        format!("needs between 1 and 64 variants, found {}", list.len()),
                    ));
                }
                let mut v = Vec::new();
                for (i, x) in list.iter().enumerate() {
                    v.push((
                        tokens_in(ctx, &format!("{key}[{i}].tokens"), x.tokens)?,
                        share_in(ctx, &format!("{key}[{i}].share"), x.share)?,
                    ));
                }
                let sum: f64 = v.iter().map(|x| x.1).sum();
                if (sum - 1.0).abs() > 1e-6 {
                    return Err(ctx
                        .error(&key, format!("the variants' shares sum to {sum}, not 1"))
                        .with_hint("give each variant the share of requests that carry it"));
                }
                v
            }
        };
    }
    if let Some(p) = keys.pool {
        let key = written("prompt-pool");
        if !(1..=1_000_000).contains(&p.size) {
            return Err(ctx.error(
                &format!("{key}.size"),
                format!("must be from 1 to 1000000 prompts, found {}", p.size),
            ));
        }
        let order = match p.order.as_deref() {
            None | Some("cycle") => PoolOrder::Cycle,
            Some("random") => PoolOrder::Random,
            Some(o) => {
                return Err(ctx
                    .error(&format!("{key}.order"), format!("unknown order \"{o}\""))
                    .with_hint(
                        "\"cycle\" (in order, as load testers replay a data set) or \"random\"",
                    ));
            }
        };
        out.pool = Some(PromptPool {
            size: p.size as u32,
            order,
        });
    }
    if let Some(g) = keys.groups {
        let key = written("prefix-groups");
        if !(1..=1_000_000).contains(&g.groups) {
            return Err(ctx.error(
                &format!("{key}.groups"),
                format!("must be from 1 to 1000000, found {}", g.groups),
            ));
        }
        out.groups = Some(PrefixGroups {
            share: share_in(ctx, &format!("{key}.share"), g.share)?,
            groups: g.groups as u32,
            tokens: tokens_in(ctx, &format!("{key}.tokens"), g.tokens)?,
        });
    }
    if let Some(c) = keys.conversation {
        let key = written("conversation");
        if out.pool.is_some() {
            return Err(ctx
                .error(&key, "a conversation's messages are new: it cannot take its prompts from a `prompt-pool`")
                .with_hint("remove one of `conversation` and `prompt-pool` (a class may set its own)"));
        }
        let seconds = &|k: &str, v: &Scalar| ctx.duration(k, v).map(|d| d.as_secs_f64());
        let no_file = &|k: &str, _: &std::path::Path| -> Result<Vec<f64>, ConfigError> {
            Err(ctx.error(k, "takes no file of values here"))
        };
        let turns = match &c.turns {
            TurnsFile::Count(n) if (1..=10_000).contains(n) => {
                Dist::Deterministic { value: *n as f64 }
            }
            TurnsFile::Count(n) => {
                return Err(ctx.error(
                    &format!("{key}.turns"),
                    format!("must be from 1 to 10000, found {n}"),
                ));
            }
            TurnsFile::Dist(d) => dist(
                ctx,
                &format!("{key}.turns"),
                "turns",
                d,
                &|k, v| match v {
                    Scalar::Number(n) => Ok(*n),
                    Scalar::Text(t) => {
                        Err(ctx.error(k, format!("must be a number of turns, found \"{t}\"")))
                    }
                },
                no_file,
            )?,
        };
        let think = match &c.think_time {
            ThinkFile::Fixed(v) => Dist::Deterministic {
                value: seconds(&format!("{key}.think-time"), v)?,
            },
            ThinkFile::Dist(d) => dist(
                ctx,
                &format!("{key}.think-time"),
                "values in seconds",
                d,
                seconds,
                &|k, path| super::read::read_seconds_file(ctx, k, path),
            )?,
        };
        let user_tokens = c
            .user_tokens
            .as_ref()
            .map(|d| super::serving::tokens(ctx, &format!("{key}.user-tokens"), d))
            .transpose()?;
        out.conversation = Some(Conversation {
            turns,
            think,
            user_tokens,
        });
    }
    Ok(out)
}
