//! The guardrail's second sense: meaning. A Description's topics ("refunds", "account
//! deletions", "threats of legal action") are compared with each sentence of a message by the
//! embedding model, so "I want my money back" escalates under "refunds" although no word matches.
//!
//! A topic alone is a weak anchor for a small model ("refunds" is as close to "refund policy
//! page" as to "give me my money back"). So Flare ships example sentences for the situations
//! Descriptions most often name; a topic borrows the examples of every situation it is close
//! to. It also ships everyday questions, and reads the Description's own "fine to answer on your
//! own" examples: a sentence closer to those than to a topic does not escalate on meaning (words
//! still escalate it, as before: meaning only adds).
//!
//! The thresholds are chosen from the labelled evaluation in `tests/data/guardrail-eval.tsv`,
//! and measured on `guardrail-eval-fresh.tsv` and `guardrail-eval-second.tsv`, which were
//! written later and never tuned on
//! (`cargo bench --features ssr --bench guardrail`; the README has the curve).

use crate::rules::{Condition, Policy, Severity, text::sentences};
use crate::server::embedding::{Embedder, ModelError, pieces, similarity};
use std::sync::Arc;
use std::time::Instant;

/// How close (cosine) a sentence must be to a topic or one of its examples to escalate.
pub const THRESHOLD: f32 = 0.45;
/// How much closer to the topic than to every everyday or "fine" example it must also be.
pub const MARGIN: f32 = 0.0;
/// How close a topic must be to a situation's name to borrow its examples.
pub const SITUATION_CLOSENESS: f32 = 0.5;

/// Situations Descriptions often name, each with sentences that mean it.
const SITUATIONS: &[(&str, &[&str])] = &[
    (
        "refunds and money back",
        &[
            "I want a refund",
            "give me my money back",
            "please reverse this charge",
            "I was charged and want the payment returned",
            "reimburse me for the purchase",
            "I am disputing the payment with my bank",
            "compensate me for the damaged order",
            "pay me back what I paid",
        ],
    ),
    (
        "account deletion and data erasure",
        &[
            "delete my account",
            "close my account permanently",
            "remove all my personal data",
            "erase my information from your systems",
            "deactivate my account and forget me",
            "cancel my account and wipe my data",
        ],
    ),
    (
        "legal threats",
        &[
            "I will sue you",
            "my lawyer will contact you",
            "I am taking legal action against you",
            "see you in court",
            "I am filing a lawsuit",
            "I will report you to the regulator",
            "my attorney is involved now",
            "this is a formal legal notice",
        ],
    ),
    (
        "liability",
        &[
            "we would be liable for all damages",
            "liability is unlimited",
            "damages are capped at a small amount",
            "we must indemnify them for any claim",
            "they exclude responsibility for losses",
        ],
    ),
    (
        "termination",
        &[
            "they can end the contract at any time",
            "terminate the agreement early",
            "cancel the contract without notice",
            "exit the deal without penalty",
        ],
    ),
    (
        "procurement",
        &[
            "our purchasing team must approve this",
            "we will send a purchase order",
            "procurement needs to review the vendor",
            "we need a formal quote for our sourcing team",
        ],
    ),
    (
        "IT and security review",
        &[
            "our IT team must review the software",
            "please fill in our security questionnaire",
            "send us your SOC 2 report",
            "our security team will assess your product",
        ],
    ),
    (
        "legal review",
        &[
            "our legal team must review the contract",
            "our counsel will redline the agreement",
            "lawyers need to approve the terms",
        ],
    ),
    (
        "enterprise customers",
        &[
            "we are a large enterprise with thousands of employees",
            "a global rollout across many offices",
            "an enterprise plan for the whole company",
        ],
    ),
];

/// Everyday requests an agent answers alone, whatever its Description.
const EVERYDAY: &[&str] = &[
    "how do I change my settings",
    "how do I use this feature",
    "how do I change my password or username",
    "where is my order",
    "when will my package arrive",
    "what are your opening hours",
    "can you help me set this up",
    "thanks for your help",
    "what payment methods do you accept",
    "how do I update my details",
    "let's schedule a meeting",
    "please fix the formatting",
    // From the first held-out third's false alarms, once it became tuning data: small things
    // removed, paying by some method, paperwork for a purchase.
    "how do I remove something I saved",
    "can I pay another way",
    "can I get a copy of my invoice or receipt",
];

/// A draft reply closer than this to one of the Description's "fine" examples is in bounds.
pub const DRAFT_IN_BOUNDS: f32 = 0.4;

/// One topic of one rule, with the sentences that stand for it.
struct Topic {
    rule: usize,
    text: String,
    anchors: Vec<Arc<[f32]>>,
    /// The severity the Description's "Treat … as …" sentences give this topic.
    severity: Severity,
}

/// A Description's topics and "fine" examples as vectors: built when it is saved (and again
/// after a restart, on its first run); the model's cache makes a rebuild cheap.
pub struct Prepared {
    topics: Vec<Topic>,
    everyday: Vec<Arc<[f32]>>,
    /// The Description's own "fine to answer on your own" examples (for drafts).
    fine: Vec<Arc<[f32]>>,
}

/// A draft reply held back by an outcome rule: far from every "fine" example, close to a topic.
#[derive(Clone, Debug, PartialEq)]
pub struct HeldDraft {
    pub rule: usize,
    pub topic: String,
    pub sentence: String,
    pub closeness: f32,
    /// How close the draft came to the nearest "fine" example.
    pub in_bounds: f32,
    pub severity: Severity,
}

/// A sentence of the message close enough to a rule's topic.
#[derive(Clone, Debug, PartialEq)]
pub struct SemanticMatch {
    pub rule: usize,
    pub topic: String,
    pub sentence: String,
    pub closeness: f32,
    /// How close the same sentence is to the nearest everyday or "fine" example.
    pub everyday: f32,
    pub severity: Severity,
}

/// The topics of a policy's rules: each term of a list rule, the subject of a threshold rule.
fn topic_texts(policy: &Policy) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, rule) in policy.rules.iter().enumerate() {
        match &rule.condition {
            Condition::AnyOf(terms) => out.extend(terms.iter().map(|t| (i, t.text.clone()))),
            Condition::Over { subject_text, .. } => out.push((i, subject_text.clone())),
        }
    }
    out
}

/// The Description's "fine to answer on your own" sentences, whole and item by item
/// ("shipping times", "order status"...).
fn fine_texts(policy: &Policy) -> Vec<String> {
    let mut out = Vec::new();
    for sentence in &policy.fine_alone {
        out.push(sentence.clone());
        let lower = sentence.to_lowercase();
        let list = lower
            .split(" are fine")
            .next()
            .and_then(|l| l.split(" is fine").next())
            .unwrap_or(&lower);
        let list = list.strip_prefix("questions about ").unwrap_or(list);
        out.extend(
            list.split([',', ';'])
                .flat_map(|p| p.split(" and "))
                .map(|p| p.trim().to_string())
                .filter(|p| p.len() > 2),
        );
    }
    out
}

impl SemanticMatch {
    /// Whether it is close enough to escalate (the closest topic is reported either way).
    pub fn escalates(&self) -> bool {
        self.escalates_at(THRESHOLD)
    }

    /// Whether this match escalates at closeness `threshold` (the evaluation draws the curve).
    pub fn escalates_at(&self, threshold: f32) -> bool {
        self.escalates_with(threshold, MARGIN)
    }

    /// The same with another margin over the everyday examples (for the evaluation's sweep).
    pub fn escalates_with(&self, threshold: f32, margin: f32) -> bool {
        self.closeness >= threshold && self.closeness >= self.everyday + margin
    }
}

/// The model and what it has prepared, shared by the runtime and the agent page.
pub struct Meaning {
    model: Result<Arc<Embedder>, String>,
    /// Prepared Descriptions by their text's hash; a few hundred agents at most.
    prepared: std::sync::Mutex<std::collections::HashMap<u64, Arc<Prepared>>>,
}

/// How long reading one message's meaning may take before the guardrail goes on with words
/// only (a 32 KB message takes about a second).
pub const DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// How long preparing a Description (embedding its topics, once per text) may take. It grows
/// with the Description: 200 rules take seconds, several times that on a busy machine, where
/// the model threads' low priority gives them what is left. Messages then read against the
/// cached preparation within [`DEADLINE`].
pub const PREPARE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

impl Meaning {
    /// Loads the model from `dir`; without one (or with a broken one) logs why, once, and
    /// leaves the guardrail to words.
    pub fn load(dir: &std::path::Path) -> Self {
        let started = std::time::Instant::now();
        let model = Embedder::load(dir).map(Arc::new).map_err(|e| e.to_string());
        match &model {
            Ok(m) => tracing::info!(
                path = %m.path.display(),
                millis = started.elapsed().as_millis() as u64,
                "loaded the embedding model: the guardrail reads meaning"
            ),
            Err(why) => {
                tracing::warn!("{why}. The guardrail matches words only (the agent page says so).")
            }
        }
        Self::with(model)
    }

    pub fn unavailable(why: impl Into<String>) -> Self {
        Self::with(Err(why.into()))
    }

    fn with(model: Result<Arc<Embedder>, String>) -> Self {
        Self {
            model,
            prepared: Default::default(),
        }
    }

    /// Why meaning is not read, if it is not.
    pub fn missing(&self) -> Option<&str> {
        self.model.as_ref().err().map(String::as_str)
    }

    fn key(description: &str) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        description.hash(&mut h);
        h.finish()
    }

    /// Prepares a Description, compiled as `policy` (on save, so its first message does not
    /// wait for it).
    pub async fn prepare(
        &self,
        description: &str,
        policy: &Policy,
    ) -> Result<Arc<Prepared>, String> {
        let model = self.model.clone()?;
        let key = Self::key(description);
        if let Some(p) = self.prepared.lock().expect("prepared").get(&key) {
            return Ok(p.clone());
        }
        let policy = policy.clone();
        let prepared = blocking(PREPARE_DEADLINE, move |_| prepare(&model, &policy)).await?;
        let prepared = Arc::new(prepared);
        let mut cache = self.prepared.lock().expect("prepared");
        if cache.len() >= 512 {
            cache.clear();
        }
        cache.insert(key, prepared.clone());
        Ok(prepared)
    }

    /// What a message means for a Description's rules: the closest topic of each rule.
    /// `Err` says why meaning could not be read (no model, the deadline); words still apply.
    pub async fn evaluate(
        &self,
        description: &str,
        policy: &Policy,
        message: &str,
    ) -> Result<Vec<SemanticMatch>, String> {
        self.read_with(
            description,
            policy,
            message,
            |model, policy, prepared, text, until| {
                evaluate(model, policy, prepared, text, Some(until))
            },
        )
        .await
    }

    /// [`check_draft`] for a Description: `None` when it has no outcome rule to hold a draft
    /// by (decided here only).
    pub async fn check_draft(
        &self,
        description: &str,
        policy: &Policy,
        draft: &str,
    ) -> Result<Option<HeldDraft>, String> {
        if policy.model_judged.is_empty() || draft.trim().is_empty() {
            return Ok(None);
        }
        self.read_with(
            description,
            policy,
            draft,
            |model, _, prepared, text, until| check_draft(model, prepared, text, Some(until)),
        )
        .await
    }

    /// Runs `work` on `text` (normalised as the guardrail reads it) with the Description
    /// prepared, off the async threads and within [`DEADLINE`].
    async fn read_with<T, F>(
        &self,
        description: &str,
        policy: &Policy,
        text: &str,
        work: F,
    ) -> Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce(&Embedder, &Policy, &Prepared, &str, Instant) -> Result<T, ModelError>
            + Send
            + 'static,
    {
        let model = self.model.clone()?;
        let prepared = self.prepare(description, policy).await?;
        let policy = policy.clone();
        let text = super::rules_text(text);
        blocking(DEADLINE, move |until| {
            work(&model, &policy, &prepared, &text, until)
        })
        .await
    }
}

/// How long a message may wait for a free model thread (a burst's backlog) before the
/// guardrail goes on with words only. The wait is not part of [`DEADLINE`], so a burst delays
/// runs rather than weakening their guardrail.
pub const QUEUE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(600);

/// The model threads' nice value: under load, requests (pages, live updates, webhook intake)
/// get the cores first; with nothing else to do, the model still has all of them.
pub const MODEL_NICE: i32 = 10;

/// The threads model work runs on (a rayon pool, as candle computes on rayon), one per core,
/// at a lower priority, and one slot per thread: further work waits for a slot outside its
/// deadline.
pub struct ModelThreads {
    pool: rayon::ThreadPool,
    slots: Arc<tokio::sync::Semaphore>,
}

impl ModelThreads {
    /// `threads` threads, at [`MODEL_NICE`] when `lower` (Linux).
    pub fn new(threads: usize, lower: bool) -> Result<Self, String> {
        let threads = threads.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("flare-model-{i}"))
            .start_handler(move |_| {
                if lower {
                    lower_this_threads_priority();
                }
            })
            // A panic in model code ends that job (its caller hears "stopped"), not the server.
            .panic_handler(|_| tracing::error!("the embedding model panicked"))
            .build()
            .map_err(|e| format!("the model's threads could not start: {e}"))?;
        Ok(Self {
            pool,
            slots: Arc::new(tokio::sync::Semaphore::new(threads)),
        })
    }

    /// The process's model threads (one per core), started on first use.
    pub fn shared() -> Result<&'static Self, String> {
        static THREADS: std::sync::LazyLock<Result<ModelThreads, String>> =
            std::sync::LazyLock::new(|| {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                ModelThreads::new(cores, true)
            });
        THREADS.as_ref().map_err(Clone::clone)
    }

    /// Runs `work` once a thread is free (waiting at most `wait`), with `deadline` for the work
    /// itself (passed to it too, so it stops when nobody waits for it any more).
    pub async fn run<T: Send + 'static>(
        &self,
        wait: std::time::Duration,
        deadline: std::time::Duration,
        work: impl FnOnce(Instant) -> Result<T, ModelError> + Send + 'static,
    ) -> Result<T, String> {
        let slot = match tokio::time::timeout(wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(slot)) => slot,
            Ok(Err(_)) => return Err("the embedding model's threads stopped".into()),
            Err(_) => {
                return Err(format!(
                    "the embedding model was busy for over {} s",
                    wait.as_secs()
                ));
            }
        };
        let until = Instant::now() + deadline;
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.pool.spawn(move || {
            // The slot is free again when the work has really stopped.
            let _slot = slot;
            let _ = tx.send(work(until));
        });
        match tokio::time::timeout(deadline, rx).await {
            Ok(Ok(Ok(v))) => Ok(v),
            Ok(Ok(Err(ModelError::Late))) | Err(_) => Err(format!(
                "the embedding model took longer than {} s",
                deadline.as_secs()
            )),
            Ok(Ok(Err(e))) => Err(e.to_string()),
            Ok(Err(_)) => Err("the embedding model stopped".into()),
        }
    }
}

#[cfg(target_os = "linux")]
fn lower_this_threads_priority() {
    // On Linux, PRIO_PROCESS with 0 names the calling thread only. Raising one's own nice
    // value needs no privilege.
    // SAFETY: a plain system call with no pointers.
    let done = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, MODEL_NICE) };
    if done != 0 {
        tracing::warn!("could not lower the model thread's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_threads_priority() {}

/// Runs model work on the model threads, with [`QUEUE_DEADLINE`] to get a thread and
/// `deadline` for the work. Only a loaded model gets here, so a failure is news: it is logged
/// once, here, and callers go on with words.
async fn blocking<T: Send + 'static>(
    deadline: std::time::Duration,
    work: impl FnOnce(std::time::Instant) -> Result<T, ModelError> + Send + 'static,
) -> Result<T, String> {
    let result = match ModelThreads::shared() {
        Ok(threads) => threads.run(QUEUE_DEADLINE, deadline, work).await,
        Err(e) => Err(e),
    };
    if let Err(why) = &result {
        tracing::warn!(%why, "meaning was not read: the guardrail goes on with words");
    }
    result
}

/// Embeds a policy's topics, the examples they borrow and its "fine" examples.
pub fn prepare(embedder: &Embedder, policy: &Policy) -> Result<Prepared, ModelError> {
    let names: Vec<&str> = SITUATIONS.iter().map(|(name, _)| *name).collect();
    let situations = embedder.topics(&names)?;
    let topic_texts = topic_texts(policy);
    let texts: Vec<&str> = topic_texts.iter().map(|(_, t)| t.as_str()).collect();
    let own = embedder.topics(&texts)?;
    let mut topics = Vec::new();
    for ((rule, text), own) in topic_texts.iter().zip(own) {
        let mut borrowed: Vec<&str> = Vec::new();
        for (name, (_, examples)) in situations.iter().zip(SITUATIONS) {
            if similarity(&own, name) >= SITUATION_CLOSENESS {
                borrowed.extend(examples.iter());
            }
        }
        let mut anchors = vec![own];
        anchors.extend(embedder.topics(&borrowed)?);
        topics.push(Topic {
            rule: *rule,
            text: text.clone(),
            anchors,
            severity: policy.severity_of(&crate::rules::text::stems(text)),
        });
    }
    let fine_texts = fine_texts(policy);
    let fine_refs: Vec<&str> = fine_texts.iter().map(String::as_str).collect();
    let fine = embedder.topics(&fine_refs)?;
    let mut everyday = fine.clone();
    everyday.extend(embedder.topics(EVERYDAY)?);
    Ok(Prepared {
        topics,
        everyday,
        fine,
    })
}

/// The pieces of a text the model reads: its sentences, long ones cut, with a letter in them
/// (nothing to read in emoji, numbers or punctuation alone).
fn readable_pieces(text: &str) -> Vec<String> {
    sentences(text)
        .into_iter()
        .flat_map(pieces)
        .filter(|p| p.chars().any(char::is_alphabetic))
        .collect()
}

/// The pieces of a text with their vectors.
fn read(
    embedder: &Embedder,
    text: &str,
    until: Option<Instant>,
) -> Result<Vec<(String, Vec<f32>)>, ModelError> {
    let pieces = readable_pieces(text);
    let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
    let vectors = embedder.embed_all_until(&refs, until)?;
    Ok(pieces.into_iter().zip(vectors).collect())
}

/// The closest topic of each rule for `message` (already normalised by `rules_text`), most
/// close first. Threshold rules count only when the message names an amount past them. Past
/// `until`, gives up with [`ModelError::Late`].
pub fn evaluate(
    embedder: &Embedder,
    policy: &Policy,
    prepared: &Prepared,
    message: &str,
    until: Option<Instant>,
) -> Result<Vec<SemanticMatch>, ModelError> {
    let mut best: Vec<Option<SemanticMatch>> = vec![None; policy.rules.len()];
    let allowed: Vec<bool> = policy
        .rules
        .iter()
        .map(|r| match &r.condition {
            Condition::AnyOf(_) => true,
            over @ Condition::Over { .. } => over.amount_past(message).is_some(),
        })
        .collect();
    for (piece, v) in read(embedder, message, until)? {
        let everyday = prepared
            .everyday
            .iter()
            .map(|e| similarity(&v, e))
            .fold(f32::MIN, f32::max);
        for topic in prepared.topics.iter().filter(|t| allowed[t.rule]) {
            let closeness = topic
                .anchors
                .iter()
                .map(|a| similarity(&v, a))
                .fold(f32::MIN, f32::max);
            let slot = &mut best[topic.rule];
            if slot.as_ref().is_some_and(|m| m.closeness >= closeness) {
                continue;
            }
            *slot = Some(SemanticMatch {
                rule: topic.rule,
                topic: topic.text.clone(),
                sentence: piece.clone(),
                closeness,
                everyday,
                severity: topic.severity,
            });
        }
    }
    let mut out: Vec<SemanticMatch> = best.into_iter().flatten().collect();
    out.sort_by(|a, b| b.closeness.total_cmp(&a.closeness));
    Ok(out)
}

/// The outcome check: an agent's draft reply, under a Description with outcome rules ("any
/// reply you'd be uncomfortable sending", "when in doubt"; [`Meaning::check_draft`] asks only
/// then), is held for a person when it is far from every example the Description calls fine and
/// close to one of its topics. It reads what the draft is *about*, not whether it is right: a
/// draft that promises a refund is held; a wrong shipping date is not.
fn check_draft(
    embedder: &Embedder,
    prepared: &Prepared,
    draft: &str,
    until: Option<Instant>,
) -> Result<Option<HeldDraft>, ModelError> {
    let mut held: Option<HeldDraft> = None;
    for (piece, v) in read(embedder, draft, until)? {
        let in_bounds = prepared
            .fine
            .iter()
            .map(|e| similarity(&v, e))
            .fold(0.0, f32::max);
        if in_bounds >= DRAFT_IN_BOUNDS {
            continue;
        }
        for topic in &prepared.topics {
            let closeness = topic
                .anchors
                .iter()
                .map(|a| similarity(&v, a))
                .fold(f32::MIN, f32::max);
            if closeness < THRESHOLD || held.as_ref().is_some_and(|h| h.closeness >= closeness) {
                continue;
            }
            held = Some(HeldDraft {
                rule: topic.rule,
                topic: topic.text.clone(),
                sentence: piece.clone(),
                closeness,
                in_bounds,
                severity: topic.severity,
            });
        }
    }
    Ok(held)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const LONG: Duration = Duration::from_secs(5);

    /// Model work that takes `ms` milliseconds.
    fn nap(ms: u64) -> impl FnOnce(Instant) -> Result<u64, ModelError> + Send + 'static {
        move |_| {
            std::thread::sleep(Duration::from_millis(ms));
            Ok(ms)
        }
    }

    #[tokio::test]
    async fn waiting_for_a_model_thread_is_not_part_of_the_deadline() {
        let threads = ModelThreads::new(1, false).unwrap();
        // Four jobs of 100 ms on one thread: the last waits 300 ms, longer than its deadline.
        let jobs = (0..4).map(|_| threads.run(LONG, Duration::from_millis(250), nap(100)));
        let results = futures::future::join_all(jobs).await;
        assert!(results.iter().all(|r| r == &Ok(100)), "{results:?}");
    }

    #[tokio::test]
    async fn work_over_its_deadline_or_a_queue_waited_too_long_is_refused_in_words() {
        let threads = ModelThreads::new(1, false).unwrap();
        let slow = threads.run(LONG, Duration::from_millis(50), nap(300));
        assert!(slow.await.unwrap_err().contains("took longer than"));
        // The slow work still holds the only thread (its slot is free once it really stops),
        // so the next waits, at most 50 ms here.
        let queued = threads.run(Duration::from_millis(50), LONG, nap(1));
        assert!(queued.await.unwrap_err().contains("busy"));
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(threads.run(LONG, LONG, nap(1)).await, Ok(1));
    }

    #[tokio::test]
    async fn a_panic_in_model_work_ends_that_work_only() {
        let threads = ModelThreads::new(1, false).unwrap();
        let r = threads
            .run(LONG, LONG, |_| -> Result<u64, ModelError> {
                panic!("boom")
            })
            .await;
        assert!(r.unwrap_err().contains("stopped"));
        assert_eq!(threads.run(LONG, LONG, nap(1)).await, Ok(1));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn model_threads_run_at_a_lower_priority() {
        // SAFETY: plain system calls with no pointers.
        let ours = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let threads = ModelThreads::new(2, true).unwrap();
        let theirs = threads
            .run(LONG, LONG, |_| {
                Ok(unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) })
            })
            .await;
        assert_eq!(theirs, Ok(MODEL_NICE));
        // Only the model's threads: this one keeps its priority.
        assert_eq!(unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }, ours);
    }

    #[test]
    fn fine_examples_are_read_whole_and_item_by_item() {
        let p = crate::rules::compile(crate::server::demo::CUSTOMER_SUPPORT_DESCRIPTION);
        let fine = fine_texts(&p);
        assert!(fine.contains(&"shipping times".to_string()), "{fine:?}");
        assert!(fine.contains(&"order status".to_string()), "{fine:?}");
        assert!(
            fine.contains(&"how to use the product".to_string()),
            "{fine:?}"
        );
    }

    #[test]
    fn every_rule_term_is_a_topic() {
        let p = crate::rules::compile(crate::server::demo::CUSTOMER_SUPPORT_DESCRIPTION);
        let topics: Vec<String> = topic_texts(&p).into_iter().map(|(_, t)| t).collect();
        for t in [
            "refunds",
            "account deletions",
            "threats of legal action",
            "lawyer",
            "refund requests",
        ] {
            assert!(topics.contains(&t.to_string()), "{t} in {topics:?}");
        }
    }
}
