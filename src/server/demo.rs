//! Demo data (`FLARE_DEMO=1` or `--demo`): the tutorial's teams, people and agents.
//! It holds no escalations, so a fresh demo shows the empty Escalations page.

use super::auth::hash_password;
use super::config::Config;
use super::db::audit::{self, Actor};
use super::db::{Db, agents, teams, users};
use crate::auth::Role;
use crate::error::AppError;

pub const SUPPORT_MEMBER: &str = "support@example.com";
pub const SALES_MEMBER: &str = "sales@example.com";

pub const CUSTOMER_SUPPORT_DESCRIPTION: &str = "You draft replies to customer emails and chats for our support team. \
Always escalate any request involving refunds, account deletions, or threats of legal action. \
Always escalate refund requests over $100. Before escalating, confirm the order details and check whether the customer has had refunds in the past 90 days. \
Escalate any customer reply that mentions a lawyer, attorney, legal action, or compliance officer. Don't draft a reply yourself — just flag it. \
Treat refund requests as Critical; treat unusual phrasing as Info. \
Questions about shipping times, order status and how to use the product are fine to answer on your own.";

pub const CONTRACT_REVIEWER_DESCRIPTION: &str = "You review incoming contracts against our standard terms and flag deviations. \
Escalate any contract clause that deviates from our standard terms by more than 10%. Include a one-sentence summary of the deviation and which standard clause it diverges from. \
Escalate any clause you can't classify with confidence, or anything involving liability or termination. \
Formatting fixes and clauses that match our standard terms are fine to approve on your own.";

pub const SALES_OUTREACH_DESCRIPTION: &str = "You draft follow-up emails to prospects after sales calls. \
Escalate any prospect that's flagged as enterprise-tier or any reply that mentions legal, procurement, or IT review. \
Escalate any reply you'd be uncomfortable sending without a human checking it first. \
Friendly check-ins and scheduling replies are fine to send on your own.";

/// Seeds once: does nothing when the "Support" team already exists.
pub async fn seed(db: &Db, config: &Config) -> Result<bool, AppError> {
    if teams::by_name(db, "Support").await?.is_some() {
        return Ok(false);
    }
    let support = teams::insert(db, "Support").await?;
    let sales = teams::insert(db, "Sales").await?;
    let hash = hash_password(config.demo_password.expose().to_string()).await?;
    for (team, email, name) in [
        (&support, SUPPORT_MEMBER, "Sam Support"),
        (&sales, SALES_MEMBER, "Sasha Sales"),
    ] {
        let user = match users::by_email(db, email).await? {
            Some(u) => u,
            None => users::insert(db, email, name, Role::Member, &hash).await?,
        };
        teams::add_member(db, &team.id, &user.id).await?;
    }
    // The owner belongs to every demo team (an owner created later joins all teams anyway).
    for owner in users::all(db)
        .await?
        .iter()
        .filter(|u| u.role == Role::Owner)
    {
        teams::add_member(db, &support.id, &owner.id).await?;
        teams::add_member(db, &sales.id, &owner.id).await?;
    }
    for (team, name, description) in [
        (
            &support,
            "Customer Support Agent",
            CUSTOMER_SUPPORT_DESCRIPTION,
        ),
        (
            &sales,
            "Contract Reviewer Agent",
            CONTRACT_REVIEWER_DESCRIPTION,
        ),
        (&sales, "Sales Outreach Agent", SALES_OUTREACH_DESCRIPTION),
    ] {
        let system = agents::Author {
            id: None,
            label: "system",
        };
        agents::insert(db, &team.id, name, description, system).await?;
    }
    audit::record(db, Actor::System, "demo.seeded", "Support, Sales", "").await?;
    Ok(true)
}
