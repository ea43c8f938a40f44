//! A replica's prefix cache: the KV blocks of prompts (and answers) already computed, kept
//! after their sequences end and reused by later prompts that start the same way.
//!
//! It behaves as vLLM's automatic prefix caching does: the cache holds whole blocks of the
//! engine's block size; a block is identified by everything before it and its own tokens
//! (vLLM hashes the parent block's hash with the block's token ids), so a prompt hits only a
//! run of whole blocks from its start; a block in use by a running sequence is never evicted;
//! blocks no sequence holds are evicted least recently used first, the tail of a sequence before
//! its head; cached blocks and running sequences share one KV capacity.
//!
//! Tokens are never simulated: prompts are runs of named tokens ([`Segment`]s), and the cache is
//! a tree with one node per run, so a lookup costs one step per run rather than one per block.
//! A block belongs to the node that holds its last token. A node's cached blocks are a prefix of
//! the blocks it owns; only leaves are evicted, so a node with children is whole.
//!
//! One simplification: nodes, not blocks, are pinned. Two sequences computing the same blocks
//! at once each hold their own copy (as in vLLM); here the shared node counts as held until both
//! end, which overstates use by the duplicate blocks for that while.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use super::super::prompt::Segment;

/// The root node: the empty prefix.
const ROOT: u32 = 0;

/// A hasher for keys that are already well mixed (segment ids with a parent index).
#[derive(Default)]
struct MixHasher(u64);

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01B3);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0 ^ u64::from(n)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// One run of tokens at one place in a prefix.
#[derive(Clone, Debug)]
struct Node {
    parent: u32,
    /// The run's key (its id mixed with its length).
    key: u64,
    /// Position of the run's first token in the prompt.
    start: u32,
    len: u32,
    /// Cached blocks: the first `cached` of those the node owns.
    cached: u32,
    /// Running sequences whose path passes through this node.
    pins: u32,
    children: u32,
    /// When it was last used (a logical clock), for least-recently-used eviction.
    last: u64,
    /// Whether the slot holds a node (slots of removed nodes are reused).
    live: bool,
}

/// The prefix cache of one replica.
#[derive(Debug)]
pub(super) struct PrefixCache {
    /// Tokens per block.
    block: u32,
    nodes: Vec<Node>,
    free: Vec<u32>,
    edges: HashMap<(u32, u64), u32, BuildHasherDefault<MixHasher>>,
    /// Leaves no sequence holds, least recently used first: the eviction order. Entries are
    /// dropped lazily: one whose node has been used, has grown a child or is gone since is
    /// skipped (a node's `last` changes whenever it is used, so it tells). Rebuilt when stale
    /// entries outnumber live ones, so its size stays bounded by the nodes.
    lru: BinaryHeap<Reverse<(u64, u32)>>,
    /// Its size after the last rebuild.
    lru_rebuilt: usize,
    clock: u64,
    /// Cached blocks of nodes some sequence holds.
    pinned: u64,
    /// Cached blocks of nodes no sequence holds (evictable).
    idle: u64,
}

impl std::fmt::Debug for MixHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MixHasher")
    }
}

/// A sequence's place in the cache: the nodes it holds, from the root down.
#[derive(Clone, Debug, Default)]
pub(super) struct Path {
    nodes: Vec<u32>,
}

/// What a lookup found.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Hit {
    /// Prompt tokens whose KV is cached (whole blocks, at most the prompt less one token).
    pub(super) tokens: u32,
    /// Cached tokens on the hit path that no sequence holds yet: taking them turns evictable
    /// cache into KV in use.
    pub(super) idle_tokens: u64,
}

fn key(s: &Segment) -> u64 {
    s.id ^ u64::from(s.len).wrapping_mul(0xA076_1D64_78BD_642F)
}

impl PrefixCache {
    /// An empty cache of blocks of `block` tokens.
    pub(super) fn new(block: u32) -> Self {
        PrefixCache {
            block: block.max(1),
            nodes: vec![Node {
                parent: ROOT,
                key: 0,
                start: 0,
                len: 0,
                cached: 0,
                pins: 0,
                children: 0,
                last: 0,
                live: true,
            }],
            free: Vec::new(),
            edges: HashMap::default(),
            lru: BinaryHeap::new(),
            lru_rebuilt: 0,
            clock: 0,
            pinned: 0,
            idle: 0,
        }
    }

    /// Cached tokens that running sequences hold.
    pub(super) fn pinned_tokens(&self) -> u64 {
        self.pinned * u64::from(self.block)
    }

    /// Cached tokens no running sequence holds (evicted when the space is needed).
    pub(super) fn idle_tokens(&self) -> u64 {
        self.idle * u64::from(self.block)
    }

    /// Blocks node `n` owns: those whose last token is in its run.
    fn owned(&self, n: &Node) -> u32 {
        let b = self.block;
        (n.start + n.len) / b - n.start / b
    }

    /// Blocks of node `n` whose tokens all lie within the first `computed` tokens.
    fn computed_blocks(&self, n: &Node, computed: u32) -> u32 {
        let b = self.block;
        let upto = (computed / b).min((n.start + n.len) / b);
        upto.saturating_sub(n.start / b)
    }

    /// The longest cached prefix of `prompt`: the hit, each of its nodes given to `visit`.
    fn walk(&self, prompt: &[Segment], mut visit: impl FnMut(u32)) -> Hit {
        let total: u32 = prompt.iter().map(|s| s.len).sum();
        let (mut at, mut hit_blocks, mut idle) = (ROOT, 0u32, 0u64);
        for s in prompt {
            let Some(&n) = self.edges.get(&(at, key(s))) else {
                break;
            };
            let node = &self.nodes[n as usize];
            visit(n);
            hit_blocks = node.start / self.block + node.cached;
            if node.pins == 0 {
                idle += u64::from(node.cached);
            }
            if node.cached < self.owned(node) {
                break;
            }
            at = n;
        }
        // The last prompt token is always computed: its logits give the first output token.
        let max_blocks = total.saturating_sub(1) / self.block;
        let tokens = hit_blocks.min(max_blocks) * self.block;
        Hit {
            tokens,
            idle_tokens: idle * u64::from(self.block),
        }
    }

    /// What `prompt` would hit now, changing nothing.
    pub(super) fn peek(&self, prompt: &[Segment]) -> Hit {
        self.walk(prompt, |_| {})
    }

    /// Looks `prompt` up and holds its hit path for a sequence being admitted.
    pub(super) fn acquire(&mut self, prompt: &[Segment]) -> (Hit, Path) {
        // Room for every run and the answer, so the path never grows again.
        let mut nodes = Vec::with_capacity(prompt.len() + 1);
        let hit = self.walk(prompt, |n| nodes.push(n));
        for &n in &nodes {
            self.pin(n);
        }
        (hit, Path { nodes })
    }

    fn touch(&mut self, n: u32) {
        self.clock += 1;
        self.nodes[n as usize].last = self.clock;
    }

    fn pin(&mut self, n: u32) {
        let node = &self.nodes[n as usize];
        if node.pins == 0 {
            let cached = u64::from(node.cached);
            self.idle -= cached;
            self.pinned += cached;
        }
        self.nodes[n as usize].pins += 1;
        self.touch(n);
    }

    /// Records that the sequence on `path` has computed the first `computed` tokens of
    /// `content` (its prompt) and `answer` (when it ends): their whole blocks join the cache. Returns the
    /// tokens of blocks this call added to the cache (they were the sequence's own).
    pub(super) fn extend(
        &mut self,
        path: &mut Path,
        content: &[Segment],
        answer: Option<Segment>,
        computed: u32,
    ) -> u64 {
        let mut added = 0u64;
        let mut start = 0u32;
        let mut parent = ROOT;
        for (i, s) in content.iter().chain(answer.iter()).enumerate() {
            if start >= computed && i >= path.nodes.len() {
                break;
            }
            let n = match path.nodes.get(i) {
                Some(&n) => n,
                None => {
                    let n = match self.edges.get(&(parent, key(s))) {
                        Some(&n) => n,
                        None => self.create(parent, key(s), start, s.len),
                    };
                    self.pin(n);
                    path.nodes.push(n);
                    n
                }
            };
            let node = &self.nodes[n as usize];
            let want = self.computed_blocks(node, computed);
            if want > node.cached {
                let more = want - node.cached;
                self.nodes[n as usize].cached = want;
                self.pinned += u64::from(more);
                added += u64::from(more);
            }
            start += s.len;
            parent = n;
        }
        added * u64::from(self.block)
    }

    fn create(&mut self, parent: u32, key: u64, start: u32, len: u32) -> u32 {
        let node = Node {
            parent,
            key,
            start,
            len,
            cached: 0,
            pins: 0,
            children: 0,
            last: 0,
            live: true,
        };
        let n = match self.free.pop() {
            Some(n) => {
                self.nodes[n as usize] = node;
                n
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        self.edges.insert((parent, key), n);
        self.nodes[parent as usize].children += 1;
        self.touch(n);
        n
    }

    /// The sequence on `path` ends or is preempted: its nodes stay cached, held by nobody
    /// once no other sequence holds them. The tail is let go first, so it is evicted first.
    pub(super) fn release(&mut self, path: &mut Path) {
        for &n in path.nodes.iter().rev() {
            self.touch(n);
            let node = &mut self.nodes[n as usize];
            node.pins -= 1;
            if node.pins == 0 {
                let cached = u64::from(node.cached);
                self.pinned -= cached;
                self.idle += cached;
                if node.children == 0 {
                    self.retire_leaf(n);
                }
            }
        }
        path.nodes.clear();
    }

    /// An unheld leaf: evictable, or removed at once if it holds no block.
    fn retire_leaf(&mut self, n: u32) {
        let node = &self.nodes[n as usize];
        if node.cached == 0 {
            self.remove(n);
        } else {
            self.lru.push(Reverse((node.last, n)));
            if self.lru.len() > 2 * self.lru_rebuilt + 1024 {
                let old = std::mem::take(&mut self.lru);
                let live: Vec<_> = old
                    .into_iter()
                    .filter(|&Reverse((last, n))| self.evictable(n, last))
                    .collect();
                self.lru = BinaryHeap::from(live);
                self.lru_rebuilt = self.lru.len();
            }
        }
    }

    /// Whether the eviction entry `(last, n)` still names an unheld leaf unused since.
    fn evictable(&self, n: u32, last: u64) -> bool {
        let node = &self.nodes[n as usize];
        node.live && node.last == last && node.pins == 0 && node.children == 0
    }

    /// Removes an unheld leaf with its blocks; its parent may become an evictable leaf.
    fn remove(&mut self, n: u32) {
        let node = self.nodes[n as usize].clone();
        debug_assert!(node.pins == 0 && node.children == 0);
        self.nodes[n as usize].live = false;
        self.idle -= u64::from(node.cached);
        self.edges.remove(&(node.parent, node.key));
        self.free.push(n);
        let p = node.parent;
        self.nodes[p as usize].children -= 1;
        let parent = &self.nodes[p as usize];
        if p != ROOT && parent.children == 0 && parent.pins == 0 {
            self.retire_leaf(p);
        }
    }

    /// Evicts least recently used blocks until at most `max_tokens` of cache is unheld.
    pub(super) fn evict_to(&mut self, max_tokens: u64) {
        let max_blocks = max_tokens / u64::from(self.block);
        while self.idle > max_blocks {
            let Some(&Reverse((last, n))) = self.lru.peek() else {
                break;
            };
            if !self.evictable(n, last) {
                self.lru.pop();
                continue;
            }
            let excess = self.idle - max_blocks;
            let cached = u64::from(self.nodes[n as usize].cached);
            if cached > excess {
                // Trim the leaf's tail: its head stays cached (and first in line).
                self.nodes[n as usize].cached -= excess as u32;
                self.idle -= excess;
            } else {
                self.lru.pop();
                self.remove(n);
            }
        }
    }

    /// Nodes in the tree besides the root (for tests of bounded memory).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.nodes.len() - 1 - self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(id: u64, len: u32) -> Segment {
        Segment { id, len }
    }

    /// Admits `prompt`, computes it whole and releases it, as a finished sequence does.
    fn run_once(c: &mut PrefixCache, prompt: &[Segment]) -> Hit {
        let (hit, mut path) = c.acquire(prompt);
        let total = prompt.iter().map(|s| s.len).sum();
        c.extend(&mut path, prompt, None, total);
        c.release(&mut path);
        hit
    }

    #[test]
    fn a_repeated_prompt_hits_its_whole_blocks_less_the_last_token() {
        let mut c = PrefixCache::new(16);
        let p = [seg(1, 100), seg(2, 30)];
        assert_eq!(run_once(&mut c, &p).tokens, 0);
        // 130 tokens: 8 whole blocks (128 tokens) are cached; 129 is the most a hit may cover.
        assert_eq!(c.idle_tokens(), 128);
        let hit = run_once(&mut c, &p);
        assert_eq!(hit.tokens, 128);
        assert_eq!(hit.idle_tokens, 128);
        // A prompt of exactly 8 blocks recomputes its last block for the last token.
        let mut c = PrefixCache::new(16);
        let q = [seg(7, 128)];
        run_once(&mut c, &q);
        assert_eq!(run_once(&mut c, &q).tokens, 112);
    }

    #[test]
    fn a_shared_prefix_hits_only_blocks_that_end_inside_it() {
        let mut c = PrefixCache::new(16);
        run_once(&mut c, &[seg(1, 40), seg(2, 50)]);
        // Same 40-token system prompt, another body: blocks 0 and 1 (tokens 0-31) end inside
        // the shared run; block 2 (32-47) mixes in the old body and is a different block.
        let hit = run_once(&mut c, &[seg(1, 40), seg(3, 50)]);
        assert_eq!(hit.tokens, 32);
    }

    #[test]
    fn eviction_takes_the_least_recently_used_tails_first_and_never_held_blocks() {
        let mut c = PrefixCache::new(10);
        run_once(&mut c, &[seg(1, 50)]); // 5 blocks
        run_once(&mut c, &[seg(2, 50)]); // 5 blocks, used later
        assert_eq!(c.idle_tokens(), 100);
        let (_, mut held) = c.acquire(&[seg(2, 50)]);
        assert_eq!((c.pinned_tokens(), c.idle_tokens()), (50, 50));
        c.evict_to(20);
        // Prompt 1's tail went first; its head (2 blocks) stays; prompt 2 is held.
        assert_eq!(c.idle_tokens(), 20);
        assert_eq!(c.pinned_tokens(), 50);
        assert_eq!(c.peek(&[seg(1, 50)]).tokens, 20);
        c.evict_to(0);
        assert_eq!(c.peek(&[seg(1, 50)]).tokens, 0);
        assert_eq!(c.peek(&[seg(2, 50)]).tokens, 40);
        c.release(&mut held);
        assert_eq!((c.pinned_tokens(), c.idle_tokens()), (0, 50));
        c.evict_to(0);
        assert_eq!((c.idle_tokens(), c.len()), (0, 0));
    }

    #[test]
    fn a_conversation_turn_hits_the_previous_prompt_and_answer() {
        let mut c = PrefixCache::new(16);
        let turn1 = [seg(1, 200), seg(10, 40)];
        let (_, mut path) = c.acquire(&turn1);
        // Prompt and answer (60 tokens, the last never computed) join the cache at the end.
        c.extend(&mut path, &turn1, Some(seg(11, 60)), 240 + 59);
        c.release(&mut path);
        let turn2 = [seg(1, 200), seg(10, 40), seg(11, 60), seg(12, 30)];
        // 299 computed tokens: 18 whole blocks (288 tokens).
        assert_eq!(c.peek(&turn2).tokens, 288);
    }

    #[test]
    fn memory_stays_bounded_by_the_blocks_kept_when_every_prompt_is_new() {
        let mut c = PrefixCache::new(16);
        for i in 0..10_000u64 {
            run_once(&mut c, &[seg(1, 64), seg(1000 + i, 37)]);
            c.evict_to(16 * 100);
        }
        assert!(c.idle_tokens() <= 1600);
        assert!(c.len() <= 101, "{} nodes", c.len());
    }
}
