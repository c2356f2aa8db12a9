//! The sentence-embedding model the guardrail reads meaning with: all-MiniLM-L6-v2 (or any
//! BERT-style sentence-transformers folder), run in-process on the CPU with candle. Sentences
//! become unit vectors; two sentences mean alike when their dot product (cosine) is high.
//!
//! The model is optional: without it Flare starts, warns once, and the guardrail matches words
//! only (see `runtime::semantic`).
//!
//! The encoder is the standard BERT forward pass written on `candle-nn`'s layers (about 80
//! lines). `candle-transformers` has one too, but it is 83,000 lines of other models compiled
//! in every build for these 80.

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Embedding, LayerNorm, Linear, VarBuilder};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokenizers::Tokenizer;

/// The folder `scripts/lib/tools.sh` unpacks the pinned model into, under Flare's cache.
pub const DEFAULT_MODEL_DIR: &str = "models/all-MiniLM-L6-v2";

/// Words per piece a sentence is cut into: the model reads at most 256 tokens, and meaning is
/// sharper in short pieces. Pieces overlap by a few words so no phrase is cut in two.
const PIECE_WORDS: usize = 40;
const PIECE_OVERLAP: usize = 8;
/// Texts the model reads in one pass.
const BATCH: usize = 16;
/// Topic vectors kept in memory (a topic is a few words; 4096 vectors are 6 MB).
const CACHE_LIMIT: usize = 4096;

/// Why the model is not there, in words for the log and the agent page.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(
        "no embedding model at {0} (run scripts/run or scripts/test to install it, or set FLARE_EMBEDDING_MODEL)"
    )]
    Missing(PathBuf),
    #[error("the embedding model at {path} cannot be read: {why}")]
    Unreadable { path: PathBuf, why: String },
    #[error("the embedding model failed: {0}")]
    Inference(String),
    #[error("reading the text's meaning took too long")]
    Late,
}

/// The parts of a BERT `config.json` the encoder reads.
#[derive(serde::Deserialize)]
struct BertConfig {
    vocab_size: usize,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    max_position_embeddings: usize,
    type_vocab_size: usize,
    layer_norm_eps: f64,
    hidden_act: String,
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    up: Linear,
    down: Linear,
    out_norm: LayerNorm,
}

/// A BERT encoder: token, position and type embeddings, then self-attention layers.
struct Bert {
    words: Embedding,
    positions: Embedding,
    types: Embedding,
    norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    max_tokens: usize,
}

impl Bert {
    fn load(vb: VarBuilder, c: &BertConfig) -> candle_core::Result<Self> {
        use candle_nn::{embedding, layer_norm, linear};
        if c.hidden_act != "gelu" || !c.hidden_size.is_multiple_of(c.num_attention_heads) {
            candle_core::bail!(
                "not a BERT model this encoder reads (hidden_act {:?})",
                c.hidden_act
            );
        }
        let (h, eps) = (c.hidden_size, c.layer_norm_eps);
        let e = vb.pp("embeddings");
        let layers = (0..c.num_hidden_layers)
            .map(|i| {
                let l = vb.pp(format!("encoder.layer.{i}"));
                let (a, o) = (l.pp("attention"), l.pp("output"));
                Ok(Layer {
                    query: linear(h, h, a.pp("self.query"))?,
                    key: linear(h, h, a.pp("self.key"))?,
                    value: linear(h, h, a.pp("self.value"))?,
                    attention_out: linear(h, h, a.pp("output.dense"))?,
                    attention_norm: layer_norm(h, eps, a.pp("output.LayerNorm"))?,
                    up: linear(h, c.intermediate_size, l.pp("intermediate.dense"))?,
                    down: linear(c.intermediate_size, h, o.pp("dense"))?,
                    out_norm: layer_norm(h, eps, o.pp("LayerNorm"))?,
                })
            })
            .collect::<candle_core::Result<_>>()?;
        Ok(Self {
            words: embedding(c.vocab_size, h, e.pp("word_embeddings"))?,
            positions: embedding(c.max_position_embeddings, h, e.pp("position_embeddings"))?,
            types: embedding(c.type_vocab_size, h, e.pp("token_type_embeddings"))?,
            norm: layer_norm(h, eps, e.pp("LayerNorm"))?,
            layers,
            heads: c.num_attention_heads,
            max_tokens: c.max_position_embeddings,
        })
    }

    /// Sentence vectors `[batch, hidden]`, unit length, for sequences of token ids (padded
    /// here; padding is masked out of attention and of the mean).
    fn embed_batch(&self, batch: &[&[u32]], device: &Device) -> candle_core::Result<Tensor> {
        let (b, n) = (
            batch.len(),
            batch.iter().map(|s| s.len()).max().unwrap_or(0),
        );
        let mut ids = vec![0u32; b * n];
        let mut mask = vec![0f32; b * n];
        for (i, seq) in batch.iter().enumerate() {
            ids[i * n..i * n + seq.len()].copy_from_slice(seq);
            mask[i * n..i * n + seq.len()].fill(1.0);
        }
        let ids = Tensor::from_vec(ids, (b, n), device)?;
        let mask = Tensor::from_vec(mask, (b, n), device)?;
        let positions = Tensor::arange(0u32, n as u32, device)?;
        let types = Tensor::zeros((b, n), DType::U32, device)?;
        let x = (self
            .words
            .forward(&ids)?
            .broadcast_add(&self.positions.forward(&positions)?)?
            + self.types.forward(&types)?)?;
        let mut x = self.norm.forward(&x)?;
        let hidden = x.dim(2)?;
        let head = hidden / self.heads;
        let scale = 1.0 / (head as f64).sqrt();
        // Padding gets no attention: a large negative score before the softmax.
        let padding = ((mask.clone() - 1.0)? * 1e4)?.reshape((b, 1, 1, n))?;
        // [b, n, hidden] -> [b, heads, n, head]
        let split = |t: Tensor| {
            t.reshape((b, n, self.heads, head))?
                .transpose(1, 2)?
                .contiguous()
        };
        for l in &self.layers {
            let q = split(l.query.forward(&x)?)?;
            let k = split(l.key.forward(&x)?)?;
            let v = split(l.value.forward(&x)?)?;
            let scores = (q.matmul(&k.t()?.contiguous()?)? * scale)?.broadcast_add(&padding)?;
            let weights = candle_nn::ops::softmax_last_dim(&scores)?;
            let context = weights
                .matmul(&v)?
                .transpose(1, 2)?
                .reshape((b, n, hidden))?;
            x = l
                .attention_norm
                .forward(&(l.attention_out.forward(&context)? + &x)?)?;
            // BERT's "gelu" is the exact (erf) form.
            let inner = l.up.forward(&x)?.gelu_erf()?;
            x = l.out_norm.forward(&(l.down.forward(&inner)? + &x)?)?;
        }
        // The mean of the real tokens' vectors (as sentence-transformers pools), normalised.
        let mask = mask.unsqueeze(2)?;
        let sum = x.broadcast_mul(&mask)?.sum(1)?;
        let mean = sum.broadcast_div(&mask.sum(1)?)?;
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
        mean.broadcast_div(&norm)
    }
}

pub struct Embedder {
    reader: Reader,
    tokenizer: Tokenizer,
    device: Device,
    /// Where it was loaded from, for the log.
    pub path: PathBuf,
    /// Topic phrases already embedded: each Description's topics are embedded once.
    topics: Mutex<HashMap<String, Arc<[f32]>>>,
}

/// What turns tokens into a text's vector.
enum Reader {
    /// The transformer itself.
    Model(Bert),
    /// A distilled copy's table (see [`Embedder::distil`]).
    Table(Table),
}

/// One vector per token of the vocabulary, row after row.
struct Table {
    rows: Vec<f32>,
    width: usize,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("path", &self.path)
            .finish()
    }
}

impl Embedder {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        let weights = dir.join("model.safetensors");
        if !weights.is_file() {
            return Err(ModelError::Missing(dir.to_path_buf()));
        }
        let unreadable = |why: String| ModelError::Unreadable {
            path: dir.to_path_buf(),
            why,
        };
        let config: BertConfig = std::fs::read_to_string(dir.join("config.json"))
            .map_err(|e| unreadable(format!("config.json: {e}")))
            .and_then(|s| {
                serde_json::from_str(&s).map_err(|e| unreadable(format!("config.json: {e}")))
            })?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| unreadable(format!("tokenizer.json: {e}")))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: 256,
                ..Default::default()
            }))
            .map_err(|e| unreadable(format!("tokenizer.json: {e}")))?;
        let device = Device::Cpu;
        // Read into memory rather than mapped: a file changed under a mapping is undefined
        // behaviour, and 90 MB once is cheap.
        let bytes = std::fs::read(&weights).map_err(|e| unreadable(format!("{e}")))?;
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &device)
            .map_err(|e| unreadable(format!("model.safetensors: {e}")))?;
        let model =
            Bert::load(vb, &config).map_err(|e| unreadable(format!("model.safetensors: {e}")))?;
        let embedder = Self {
            reader: Reader::Model(model),
            tokenizer,
            device,
            path: dir.to_path_buf(),
            topics: Mutex::new(HashMap::new()),
        };
        // A file that loads but computes garbage (truncated weights) fails here, not mid-run.
        let probe = embedder.embed("refund")?;
        if probe.iter().any(|x| !x.is_finite()) {
            return Err(unreadable("it computes non-numbers".into()));
        }
        Ok(embedder)
    }

    /// One text's unit vector.
    pub fn embed(&self, text: &str) -> Result<Vec<f32>, ModelError> {
        Ok(self.embed_all(&[text])?.remove(0))
    }

    /// Many texts' unit vectors, in order, computed in batches of similar length (one pass of
    /// the model over a batch is much cheaper than one per text).
    pub fn embed_all(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        self.embed_all_until(texts, None)
    }

    /// [`Embedder::embed_all`], giving up between batches once `until` has passed (so a caller
    /// that stopped waiting does not leave a core busy for seconds).
    pub fn embed_all_until(
        &self,
        texts: &[&str],
        until: Option<std::time::Instant>,
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let fail = |e: &dyn std::fmt::Display| ModelError::Inference(e.to_string());
        let model = match &self.reader {
            Reader::Model(model) => model,
            Reader::Table(table) => {
                return texts
                    .iter()
                    .map(|t| {
                        let e = self.tokenizer.encode(*t, false).map_err(|e| fail(&e))?;
                        Ok(table.read(e.get_ids()))
                    })
                    .collect();
            }
        };
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| fail(&e))?;
        let ids: Vec<&[u32]> = encodings
            .iter()
            .map(|e| &e.get_ids()[..e.get_ids().len().min(model.max_tokens)])
            .collect();
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| ids[i].len());
        let mut out = vec![Vec::new(); ids.len()];
        for chunk in order.chunks(BATCH) {
            if until.is_some_and(|t| std::time::Instant::now() >= t) {
                return Err(ModelError::Late);
            }
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| ids[i]).collect();
            let vectors = model
                .embed_batch(&batch, &self.device)
                .and_then(|t| t.to_vec2::<f32>())
                .map_err(|e| fail(&e))?;
            for (&i, v) in chunk.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// Topic vectors, each embedded once and then kept (the missing ones in one batch).
    pub fn topics(&self, topics: &[&str]) -> Result<Vec<Arc<[f32]>>, ModelError> {
        let missing: Vec<&str> = {
            let cache = self.topics.lock().expect("topic cache");
            let mut m: Vec<&str> = topics
                .iter()
                .copied()
                .filter(|t| !cache.contains_key(*t))
                .collect();
            m.sort_unstable();
            m.dedup();
            m
        };
        let fresh = self.embed_all(&missing)?;
        let mut cache = self.topics.lock().expect("topic cache");
        if cache.len() + fresh.len() > CACHE_LIMIT {
            // Descriptions change rarely: starting over is simpler than tracking use.
            cache.clear();
        }
        for (t, v) in missing.iter().zip(fresh) {
            cache.insert(t.to_string(), v.into());
        }
        let mut out = Vec::with_capacity(topics.len());
        for t in topics {
            let v = match cache.get(*t) {
                Some(v) => v.clone(),
                // Only when one call holds more topics than the cache: embed it again.
                None => self.embed(t)?.into(),
            };
            out.push(v);
        }
        Ok(out)
    }
}

impl Embedder {
    /// A static copy of this model, distilled the way model2vec distils one: each token's row
    /// is the model's reading of that token alone, less the rows' mean (the direction every
    /// token shares), and a text's vector is the normalised sum of its tokens' rows. Reading a
    /// text is then a table lookup per token instead of the model's ~21 MFLOP per token, at
    /// the price of word order and context. Distilling takes the model about 35 s. Flare does
    /// not use it: the guardrail bench measures it against the model (it reads meaning far
    /// worse; the README has the figures).
    pub fn distil(&self) -> Result<Self, ModelError> {
        let fail = |e: &dyn std::fmt::Display| ModelError::Inference(e.to_string());
        let Reader::Model(model) = &self.reader else {
            return Err(fail(&"a static copy cannot be distilled again"));
        };
        let special = |name: &str| {
            self.tokenizer
                .token_to_id(name)
                .ok_or_else(|| ModelError::Inference(format!("the tokenizer has no {name}")))
        };
        let (cls, sep) = (special("[CLS]")?, special("[SEP]")?);
        let vocab = self.tokenizer.get_vocab_size(true) as u32;
        let alone: Vec<[u32; 3]> = (0..vocab).map(|id| [cls, id, sep]).collect();
        let mut rows = Vec::new();
        for chunk in alone.chunks(256) {
            let batch: Vec<&[u32]> = chunk.iter().map(|s| &s[..]).collect();
            let vectors = model
                .embed_batch(&batch, &self.device)
                .and_then(|t| t.flatten_all()?.to_vec1::<f32>())
                .map_err(|e| fail(&e))?;
            rows.extend(vectors);
        }
        let width = rows.len() / vocab.max(1) as usize;
        let mut mean = vec![0f32; width];
        for row in rows.chunks(width) {
            mean.iter_mut().zip(row).for_each(|(m, x)| *m += x);
        }
        mean.iter_mut().for_each(|m| *m /= vocab as f32);
        // Not normalised again: a token close to the mean ("the", "my") keeps a short row
        // and so weighs little in a sum.
        for row in rows.chunks_mut(width) {
            row.iter_mut().zip(&mean).for_each(|(x, m)| *x -= m);
        }
        Ok(Self {
            reader: Reader::Table(Table { rows, width }),
            tokenizer: self.tokenizer.clone(),
            device: self.device.clone(),
            path: self.path.clone(),
            topics: Mutex::new(HashMap::new()),
        })
    }
}

impl Table {
    /// The normalised sum of the tokens' rows (zero for no tokens).
    fn read(&self, ids: &[u32]) -> Vec<f32> {
        let mut sum = vec![0f32; self.width];
        for &id in ids {
            let start = id as usize * self.width;
            if let Some(row) = self.rows.get(start..start + self.width) {
                sum.iter_mut().zip(row).for_each(|(s, x)| *s += x);
            }
        }
        let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            sum.iter_mut().for_each(|x| *x /= norm);
        }
        sum
    }
}

/// Runs the model on one core per message. A sentence is a few dozen tokens, and at that size
/// candle's default (every core, with workers that spin at a barrier between operations) gains
/// little alone and loses when anything else runs: in the guardrail bench, one message at a
/// time on the idle 2-core machine took p50 7.5 ms on both cores and 9.2 ms on one, but two at
/// a time 9.4 ms and 8.1 ms, and a 2 KB message 620 ms and 285 ms; while the machine compiled,
/// 22.8 ms and 8.6 ms. A server reads messages while it serves pages, so one core each. An
/// operator's own `CANDLE_NUM_THREADS` or `RAYON_NUM_THREADS` wins.
///
/// # Safety
/// Sets environment variables: call it before any other thread exists (first thing in `main`).
pub unsafe fn one_core_per_message() {
    for var in ["CANDLE_NUM_THREADS", "RAYON_NUM_THREADS"] {
        if std::env::var_os(var).is_none() {
            // SAFETY: the caller guarantees no other thread reads the environment yet.
            unsafe { std::env::set_var(var, "1") };
        }
    }
}

/// Cuts a sentence into pieces of at most [`PIECE_WORDS`] words that overlap a little.
pub fn pieces(sentence: &str) -> Vec<String> {
    let words: Vec<&str> = sentence.split_whitespace().collect();
    if words.len() <= PIECE_WORDS {
        return vec![words.join(" ")];
    }
    let step = PIECE_WORDS - PIECE_OVERLAP;
    (0..words.len())
        .step_by(step)
        .take_while(|&i| i == 0 || i + PIECE_OVERLAP < words.len())
        .map(|i| words[i..(i + PIECE_WORDS).min(words.len())].join(" "))
        .collect()
}

/// Cosine of two unit vectors.
pub fn similarity(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Where the model is: `FLARE_EMBEDDING_MODEL`, else the pinned model in Flare's cache.
pub fn model_dir(configured: Option<&str>) -> PathBuf {
    match configured {
        Some(dir) => PathBuf::from(dir),
        None => {
            let cache = std::env::var_os("FLARE_CACHE")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/flare")))
                .unwrap_or_else(|| PathBuf::from(".cache/flare"));
            cache.join(DEFAULT_MODEL_DIR)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_sentences_are_cut_into_overlapping_pieces() {
        assert_eq!(
            pieces("  I want   my money back "),
            ["I want my money back"]
        );
        let long: Vec<String> = (0..100).map(|i| format!("w{i}")).collect();
        let cut = pieces(&long.join(" "));
        assert!(cut.iter().all(|p| p.split(' ').count() <= PIECE_WORDS));
        // Every word is in some piece, and neighbouring pieces share words.
        for w in &long {
            assert!(cut.iter().any(|p| p.split(' ').any(|x| x == w)), "{w}");
        }
        assert!(cut[1].starts_with("w32 "), "{}", cut[1]);
        assert!(cut.last().unwrap().ends_with("w99"));
    }
}
