//! Which provider answers for an agent: its own choice of connection and model (Settings →
//! Models), else the deployment's default (a stored connection marked default, else the
//! environment's `FLARE_PROVIDER`, else the offline rules provider). A choice that can no longer
//! be used (its connection deleted, its model taken off the list) falls back to the default
//! and says so.

use super::anthropic::AnthropicProvider;
use super::openai::OpenAiProvider;
use super::provider::{Provider, ProviderError};
use super::rules_provider::RulesProvider;
use crate::models::{ConnectionKind, ENVIRONMENT, RULES};
use crate::server::config::{ProviderConfig, Secret};
use crate::server::db::Db;
use crate::server::db::connections::{self, ConnectionRow};
use crate::server::secret_box::SecretBox;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What answers for an agent.
#[derive(Clone)]
pub struct Resolved {
    pub provider: Arc<dyn Provider>,
    /// In words: "Anthropic prod · claude-sonnet-4-5".
    pub label: String,
    /// Why the agent's own choice is not used, when it is not.
    pub notice: Option<String>,
}

/// Why no provider could be made for a choice that exists.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error(
        "the key of the connection “{0}” cannot be opened: set the FLARE_SECRET_KEY it was saved under"
    )]
    NoSecretKey(String),
    #[error("the key of the connection “{0}” cannot be opened: {1}")]
    Sealed(String, crate::server::secret_box::SealError),
    #[error("the connection “{0}” cannot be used: {1}")]
    Client(String, String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

impl From<ConnectionError> for ProviderError {
    fn from(e: ConnectionError) -> Self {
        ProviderError::Unavailable(e.to_string())
    }
}

/// A made provider's key: the connection, the version of it (its `updated_at`), the model.
type MadeKey = (String, i64, String);

pub const RULES_LABEL: &str = "Flare rules (offline)";

pub struct Connections {
    /// The environment's provider and its label; `None` when FLARE_PROVIDER is `rules`.
    environment: Option<(Arc<dyn Provider>, String)>,
    rules: Arc<dyn Provider>,
    secrets: Option<Arc<SecretBox>>,
    /// Providers made from stored connections, by (id, updated_at, model): an edited connection
    /// gets a new entry, so a new key applies from the next call on.
    made: Mutex<HashMap<MadeKey, Arc<dyn Provider>>>,
}

impl Connections {
    pub fn new(config: &ProviderConfig, secrets: Option<Arc<SecretBox>>) -> anyhow::Result<Self> {
        let environment = match config {
            ProviderConfig::Rules => None,
            ProviderConfig::OpenAi {
                base_url,
                api_key,
                model,
            } => Some((
                Arc::new(OpenAiProvider::new(base_url, api_key, model)?) as Arc<dyn Provider>,
                environment_label(ConnectionKind::OpenAi, model),
            )),
            ProviderConfig::Anthropic {
                base_url,
                api_key,
                model,
            } => Some((
                Arc::new(AnthropicProvider::new(base_url, api_key, model)?) as Arc<dyn Provider>,
                environment_label(ConnectionKind::Anthropic, model),
            )),
        };
        Ok(Self {
            environment,
            rules: Arc::new(RulesProvider),
            secrets,
            made: Mutex::default(),
        })
    }

    pub fn secrets(&self) -> Option<&SecretBox> {
        self.secrets.as_deref()
    }

    /// The provider for an agent's choice (`None`: the default).
    pub async fn resolve(
        &self,
        db: &Db,
        connection_id: Option<&str>,
        model: Option<&str>,
    ) -> Result<Resolved, ConnectionError> {
        let Some(id) = connection_id else {
            return self.default(db).await;
        };
        match id {
            RULES => Ok(self.rules()),
            ENVIRONMENT => match &self.environment {
                Some((provider, label)) => Ok(Resolved {
                    provider: provider.clone(),
                    label: label.clone(),
                    notice: None,
                }),
                None => {
                    self.fall_back(db, "The environment no longer sets a model provider")
                        .await
                }
            },
            _ => match connections::by_id(db, id).await? {
                Some(row) if row.deleted_at.is_none() => {
                    let models = row.model_list();
                    let wanted = model.unwrap_or_default();
                    match models.iter().find(|m| *m == wanted).or(models.first()) {
                        Some(m) => {
                            let notice = (!wanted.is_empty() && wanted != m).then(|| {
                                format!(
                                    "The model “{wanted}” is no longer listed for “{}”: this agent uses “{m}”, the connection's first model, until someone picks another.",
                                    row.name
                                )
                            });
                            Ok(Resolved {
                                provider: self.make(&row, m)?,
                                label: format!("{} · {m}", row.name),
                                notice,
                            })
                        }
                        None => {
                            self.fall_back(
                                db,
                                &format!("The connection “{}” lists no model", row.name),
                            )
                            .await
                        }
                    }
                }
                Some(row) => {
                    self.fall_back(db, &format!("The connection “{}” was deleted", row.name))
                        .await
                }
                None => self.fall_back(db, "Its connection no longer exists").await,
            },
        }
    }

    /// What agents without a choice use.
    pub async fn default(&self, db: &Db) -> Result<Resolved, ConnectionError> {
        if let Some(row) = connections::default(db).await? {
            let models = row.model_list();
            if let Some(m) = models.first() {
                return Ok(Resolved {
                    provider: self.make(&row, m)?,
                    label: format!("{} · {m}", row.name),
                    notice: None,
                });
            }
        }
        Ok(match &self.environment {
            Some((provider, label)) => Resolved {
                provider: provider.clone(),
                label: label.clone(),
                notice: None,
            },
            None => self.rules(),
        })
    }

    /// The environment's connection label, when it sets one.
    pub fn environment_label(&self) -> Option<&str> {
        self.environment.as_ref().map(|(_, l)| l.as_str())
    }

    async fn fall_back(&self, db: &Db, why: &str) -> Result<Resolved, ConnectionError> {
        let mut d = self.default(db).await?;
        d.notice = Some(format!(
            "{why}: this agent uses the default ({}) until someone picks another.",
            d.label
        ));
        Ok(d)
    }

    fn rules(&self) -> Resolved {
        Resolved {
            provider: self.rules.clone(),
            label: RULES_LABEL.into(),
            notice: None,
        }
    }

    /// A provider for a stored connection and one of its models (made once per edit).
    pub fn make(
        &self,
        row: &ConnectionRow,
        model: &str,
    ) -> Result<Arc<dyn Provider>, ConnectionError> {
        let key = (row.id.clone(), row.updated_at, model.to_string());
        if let Some(p) = self.made.lock().expect("connections cache").get(&key) {
            return Ok(p.clone());
        }
        let api_key = self.open_key(row)?;
        let client = |e: anyhow::Error| ConnectionError::Client(row.name.clone(), e.to_string());
        let provider: Arc<dyn Provider> = match row.kind {
            ConnectionKind::OpenAi => {
                Arc::new(OpenAiProvider::new(&row.base_url, &api_key, model).map_err(client)?)
            }
            ConnectionKind::Anthropic => {
                Arc::new(AnthropicProvider::new(&row.base_url, &api_key, model).map_err(client)?)
            }
        };
        let mut made = self.made.lock().expect("connections cache");
        // Old entries are edits and deletions gone by: a full clear now and then is enough.
        if made.len() > 256 {
            made.clear();
        }
        made.insert(key, provider.clone());
        Ok(provider)
    }

    fn open_key(&self, row: &ConnectionRow) -> Result<Secret, ConnectionError> {
        if row.api_key.is_empty() {
            return Ok(Secret::new(""));
        }
        let secrets = self
            .secrets
            .as_deref()
            .ok_or_else(|| ConnectionError::NoSecretKey(row.name.clone()))?;
        secrets
            .open(&row.api_key, &seal_context(&row.id))
            .map_err(|e| ConnectionError::Sealed(row.name.clone(), e))
    }
}

/// Where a connection's key is bound (a sealed key copied to another row does not open).
pub fn seal_context(connection_id: &str) -> String {
    format!("model-connection:{connection_id}")
}

fn environment_label(kind: ConnectionKind, model: &str) -> String {
    format!("From environment ({}) · {model}", kind.label())
}
